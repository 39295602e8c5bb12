#include "cap_xml.hpp"

#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include <limits>
#include <mutex>

#include "microscape/core/json.hpp"

namespace microscape::controller::cap::xml {

namespace {

// The encoding an XML declaration names, lower-cased; "" when none is named.
std::string declaredEncoding(std::string_view s) {
    if (s.rfind("<?xml", 0) != 0) return {};
    const auto end = s.find("?>");
    const auto decl = s.substr(0, end == std::string_view::npos ? std::min<std::size_t>(s.size(), 200) : end);
    const auto at = decl.find("encoding");
    if (at == std::string_view::npos) return {};
    auto q = decl.find_first_of("\"'", at);
    if (q == std::string_view::npos) return "?";
    const auto close = decl.find(decl[q], q + 1);
    if (close == std::string_view::npos) return "?";
    std::string enc(decl.substr(q + 1, close - q - 1));
    for (auto& c : enc) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return enc;
}

struct CtxtFree {
    void operator()(xmlParserCtxt* c) const { xmlFreeParserCtxt(c); }
};

}  // namespace

void initOnce() {
    static std::once_flag once;
    std::call_once(once, [] { xmlInitParser(); });
}

Parsed<Doc> parseHardened(std::string_view bytes, std::size_t maxBytes, const char* what) {
    initOnce();
    const std::string name(what);
    if (bytes.size() > maxBytes)
        return Problem{"too_large", "the " + name + " is " + std::to_string(bytes.size()) + " bytes; at most " +
                                        std::to_string(maxBytes) + " are taken"};
    if (bytes.rfind("\xEF\xBB\xBF", 0) == 0) bytes.remove_prefix(3);  // a UTF-8 byte order mark
    if (!json::isValidUtf8(bytes)) return Problem{"not_utf8", "the " + name + " is not UTF-8"};
    if (const auto enc = declaredEncoding(bytes); !enc.empty() && enc != "utf-8" && enc != "utf8")
        return Problem{"not_utf8", "the " + name + " declares encoding '" + enc + "'; only UTF-8 is taken"};
    if (bytes.find("<!DOCTYPE") != std::string_view::npos || bytes.find("<!ENTITY") != std::string_view::npos)
        return Problem{"doctype_refused", "the " + name + " holds a DOCTYPE or ENTITY declaration; none is allowed"};
    if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
        return Problem{"too_large", "the " + name + " is too large"};
    std::unique_ptr<xmlParserCtxt, CtxtFree> ctxt(xmlNewParserCtxt());
    if (!ctxt) return Problem{"internal", "no memory for the XML parser"};
    // No NOENT (entities stay references), no DTDLOAD/DTDATTR/DTDVALID, no HUGE
    // (libxml2's own depth and size limits stay on), NONET (nothing fetched).
    Doc doc(xmlCtxtReadMemory(ctxt.get(), bytes.data(), static_cast<int>(bytes.size()), nullptr, "UTF-8",
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
    if (!doc || !ctxt->wellFormed) {
        const xmlError* e = xmlCtxtGetLastError(ctxt.get());
        std::string msg = e && e->message ? e->message : "not well-formed";
        while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
        return Problem{"not_xml", "the " + name + " is not well-formed XML" +
                                      (e ? " (line " + std::to_string(e->line) + ": " + msg + ")" : "")};
    }
    if (doc->intSubset || doc->extSubset)
        return Problem{"doctype_refused", "the " + name + " holds a DOCTYPE; none is allowed"};
    return Parsed<Doc>(std::move(doc));
}

}  // namespace microscape::controller::cap::xml
