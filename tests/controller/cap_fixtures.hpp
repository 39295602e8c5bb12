// CAP 1.2 test messages written from the standard (OASIS CAP 1.2, §3): a builder
// for <alert> documents with any number of <info> and <area> blocks, times as CAP
// dateTimes in +08:00, and signing with the xmlsec1 command (a scripted test PKI).
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "../support/process.hpp"

namespace microscape::testing::capfx {

struct AreaSpec {
    std::string desc;
    std::vector<std::pair<std::string, std::string>> geocodes;  // valueName, value
};

struct InfoSpec {
    std::string language = "zh-CN";
    std::string category = "Safety";
    std::string event = "交通管制";
    std::string urgency = "Immediate";
    std::string severity = "Severe";
    std::string certainty = "Observed";
    std::string headline = "柳江大桥交通管制";
    std::string description = "今晚20时至次日6时柳江大桥双向封闭，请绕行。";
    std::optional<std::int64_t> expiresMs;
    std::vector<AreaSpec> areas;
};

struct AlertSpec {
    std::string identifier = "LZGA-2026-0001";
    std::string sender = "jiaojing@liuzhou.gov.cn";
    std::int64_t sentMs = 0;
    std::string status = "Actual";
    std::string msgType = "Alert";
    std::string scope = "Public";
    std::string references;  // "sender,identifier,sent ..."
    std::vector<InfoSpec> infos;
    bool signatureTemplate = false;  // an empty enveloped <Signature> for xmlsec1 --sign
    std::string ns = "urn:oasis:names:tc:emergency:cap:1.2";
};

// UTC ms as a CAP dateTime in China time ("2026-04-15T16:00:00+08:00").
inline std::string capTime(std::int64_t utcMs) {
    std::int64_t s = utcMs / 1000 + 8 * 3600;
    std::int64_t days = s / 86400, rem = s % 86400;
    // civil_from_days (H. Hinnant)
    days += 719468;
    const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(days - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld+08:00", static_cast<long long>(y), m, d,
                  static_cast<long long>(rem / 3600), static_cast<long long>(rem % 3600 / 60),
                  static_cast<long long>(rem % 60));
    return buf;
}

inline std::string escape(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '&')
            o += "&amp;";
        else if (c == '<')
            o += "&lt;";
        else if (c == '>')
            o += "&gt;";
        else
            o += c;
    }
    return o;
}

inline std::string signatureTemplate() {
    return R"(<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>)"
           R"(<CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>)"
           R"(<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>)"
           R"(<Reference URI=""><Transforms>)"
           R"(<Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></Transforms>)"
           R"(<DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><DigestValue/></Reference>)"
           R"(</SignedInfo><SignatureValue/></Signature>)";
}

inline std::string alertXml(const AlertSpec& a) {
    std::ostringstream o;
    o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<alert xmlns=\"" << a.ns << "\">\n"
      << "  <identifier>" << escape(a.identifier) << "</identifier>\n"
      << "  <sender>" << escape(a.sender) << "</sender>\n"
      << "  <sent>" << capTime(a.sentMs) << "</sent>\n"
      << "  <status>" << a.status << "</status>\n"
      << "  <msgType>" << a.msgType << "</msgType>\n"
      << "  <scope>" << a.scope << "</scope>\n";
    if (!a.references.empty()) o << "  <references>" << escape(a.references) << "</references>\n";
    for (const auto& i : a.infos) {
        o << "  <info>\n    <language>" << i.language << "</language>\n    <category>" << i.category
          << "</category>\n    <event>" << escape(i.event) << "</event>\n    <urgency>" << i.urgency
          << "</urgency>\n    <severity>" << i.severity << "</severity>\n    <certainty>" << i.certainty
          << "</certainty>\n";
        if (i.expiresMs) o << "    <expires>" << capTime(*i.expiresMs) << "</expires>\n";
        o << "    <senderName>柳州市公安局交警支队</senderName>\n";
        if (!i.headline.empty()) o << "    <headline>" << escape(i.headline) << "</headline>\n";
        if (!i.description.empty()) o << "    <description>" << escape(i.description) << "</description>\n";
        for (const auto& ar : i.areas) {
            o << "    <area>\n      <areaDesc>" << escape(ar.desc) << "</areaDesc>\n";
            for (const auto& [n, v] : ar.geocodes)
                o << "      <geocode><valueName>" << escape(n) << "</valueName><value>" << escape(v)
                  << "</value></geocode>\n";
            o << "    </area>\n";
        }
        o << "  </info>\n";
    }
    if (a.signatureTemplate) o << "  " << signatureTemplate() << "\n";
    o << "</alert>\n";
    return o.str();
}

// The reference to a message: "sender,identifier,sent".
inline std::string ref(const AlertSpec& a) {
    return a.sender + "," + a.identifier + "," + capTime(a.sentMs);
}

// An RSA key and a self-signed certificate in dir (key.pem, cert.pem), made by
// the openssl command; the certificate's dates are not what the tests check.
inline bool makeSigner(const std::filesystem::path& dir, const std::string& name) {
    const auto key = dir / (name + "-key.pem"), cert = dir / (name + "-cert.pem");
    return runShell("openssl req -x509 -newkey rsa:2048 -nodes -keyout '" + key.string() + "' -out '" + cert.string() +
                    "' -days 3650 -subj '/CN=" + name + "' 2>/dev/null") == 0;
}

// Signs an alert made with signatureTemplate = true with xmlsec1; "" on failure.
inline std::string sign(const std::filesystem::path& dir, const std::string& name, const std::string& xml) {
    static int n = 0;
    const auto in = dir / ("tosign-" + std::to_string(++n) + ".xml"),
               out = dir / ("signed-" + std::to_string(n) + ".xml");
    std::ofstream(in, std::ios::binary) << xml;
    if (runShell("xmlsec1 --sign --privkey-pem '" + (dir / (name + "-key.pem")).string() + "' --output '" +
                 out.string() + "' '" + in.string() + "' 2>/dev/null") != 0)
        return "";
    std::ifstream f(out, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

}  // namespace microscape::testing::capfx
