#include "microscape/player/enroll.hpp"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/X509Certificate.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>
#include <Poco/URI.h>
#include <sys/stat.h>
#include <zmq.h>

#include <algorithm>
#include <memory>
#include <sstream>

#include "microscape/core/json.hpp"
#include "microscape/core/manifest.hpp"
#include "microscape/core/pin.hpp"
#include "microscape/core/wire.hpp"
#include "microscape/pack/file_io.hpp"

namespace microscape::player {

namespace fs = std::filesystem;

namespace {

constexpr const char* kNothingWritten = "; nothing was written";
constexpr std::size_t kMaxAnswerBytes = 64 << 10;

// The TLS 1.2+ client context: the server's certificate is not checked against
// any CA; its public key is checked against the pin after the handshake and
// before a byte of the request (the token) is sent.
Poco::Net::Context::Ptr pinnedClientContext() {
    Poco::Net::Context::Params p;
    p.verificationMode = Poco::Net::Context::VERIFY_NONE;
    p.loadDefaultCAs = false;
    p.cipherList = "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES:!SHA1";
    Poco::Net::Context::Ptr ctx = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, p);
    ctx->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    return ctx;
}

// An HTTPS session that connects (and completes the handshake) before the first
// request, so the server's key can be checked before anything is sent.
class PinnedSession : public Poco::Net::HTTPSClientSession {
  public:
    using HTTPSClientSession::HTTPSClientSession;
    void open() { reconnect(); }
};

struct HttpAnswer {
    int status = 0;
    std::string body;
};

// POSTs the enrolment; over https only after the server's TLS key matched tlsPin.
Result<HttpAnswer> exchange(const Poco::URI& uri, const std::string& tlsPin, const std::string& payload,
                            const std::string& shown) {
    std::string path = uri.getPath();
    while (!path.empty() && path.back() == '/') path.pop_back();
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, path + "/api/v1/enroll",
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.setContentType("application/json");
    request.setContentLength(static_cast<std::streamsize>(payload.size()));
    const Poco::Timespan timeout(30, 0);
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    try {
        if (uri.getScheme() == "https") {
            auto https = std::make_unique<PinnedSession>(uri.getHost(), uri.getPort(), pinnedClientContext());
            https->setTimeout(timeout);
            https->open();  // TCP connect and TLS handshake (SNI: the URL's host)
            const Poco::Net::X509Certificate cert = https->serverCertificate();
            auto pin = crypto::pinOfCertificate(cert.certificate());
            if (!pin)
                return makeError(Errc::UnknownSigner, shown + ": unreadable TLS certificate: " + pin.error().message);
            if (*pin != tlsPin)
                return makeError(Errc::UnknownSigner,
                                 "refusing to enrol: the TLS key of " + shown + " is " + *pin + ", not " + tlsPin +
                                     " as --tls-key-hash says (another server may be answering in its place)" +
                                     kNothingWritten + " and the token was not sent");
            session = std::move(https);
        } else {
            session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
        }
        session->setTimeout(timeout);
        session->sendRequest(request) << payload;
        Poco::Net::HTTPResponse response;
        std::istream& in = session->receiveResponse(response);
        HttpAnswer a;
        a.status = static_cast<int>(response.getStatus());
        char buf[8192];
        while (in && a.body.size() <= kMaxAnswerBytes) {
            in.read(buf, sizeof buf);
            a.body.append(buf, static_cast<std::size_t>(in.gcount()));
        }
        if (a.body.size() > kMaxAnswerBytes)
            return makeError(Errc::TooLarge, "the answer of " + shown + " is too large" + kNothingWritten);
        return a;
    } catch (const Poco::Exception& e) {
        return makeError(Errc::Io, "cannot reach " + shown + ": " + e.displayText() + kNothingWritten);
    }
}

bool isZ85Key(const std::string& s) {
    static const std::string kZ85 =
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
    std::uint8_t raw[32];
    return s.size() == 40 && s.find_first_not_of(kZ85) == std::string::npos &&
           zmq_z85_decode(raw, s.c_str()) != nullptr;
}

// The files enrolment writes, each atomically (temporary file, fsync, rename);
// player.json goes last, so a screen is enrolled exactly when it exists. On a
// failure the files this attempt wrote are removed again.
class Writer {
  public:
    explicit Writer(fs::path dir) : dir_(std::move(dir)) {}
    ~Writer() {
        if (done_) return;
        std::error_code ec;
        for (auto it = written_.rbegin(); it != written_.rend(); ++it) fs::remove(*it, ec);
        for (auto it = madeDirs_.rbegin(); it != madeDirs_.rend(); ++it) fs::remove(*it, ec);  // only if empty
    }
    // Creates DIR/keys (0700) and DIR as needed, remembering what it made.
    Status makeDirs() {
        std::error_code ec;
        for (const fs::path& d : {dir_, dir_ / "keys"}) {
            if (fs::is_directory(d, ec)) continue;
            if (!fs::create_directories(d, ec) && ec)
                return makeError(Errc::Io, "cannot create " + d.string() + ": " + ec.message());
            madeDirs_.push_back(d);
        }
        ::chmod((dir_ / "keys").c_str(), 0700);
        return {};
    }
    Status write(const char* relative, const std::string& text, unsigned mode) {
        const fs::path p = dir_ / relative;
        auto f = pack::AtomicFile::create(p.string(), true, mode);
        if (!f) return f.error();
        MS_TRY(f->write(text.data(), text.size()));
        MS_TRY(f->commit());
        written_.push_back(p);
        return {};
    }
    void keep() { done_ = true; }

  private:
    fs::path dir_;
    std::vector<fs::path> written_, madeDirs_;
    bool done_ = false;
};

// What the request holds once checked: the controller's URL and the two pins.
struct CheckedRequest {
    Poco::URI uri;
    std::string scheme;
    std::string contentPin;
    std::string tlsPin;  // empty for http://
};

// Step 1: everything that can be checked before talking to anyone.
Result<CheckedRequest> checkRequest(const EnrollRequest& req) {
    const fs::path dir = req.dataDir;
    std::error_code ec;
    if (fs::exists(dir / kConfigFile, ec))
        return makeError(Errc::Exists, (dir / kConfigFile).string() + " exists: this player is already enrolled");
    if (req.width.has_value() != req.height.has_value())
        return makeError(Errc::Usage, "--width and --height go together (the screen's resolution, e.g. 1920 and 540)");
    for (auto [what, v] : {std::pair{"--width", req.width}, std::pair{"--height", req.height}})
        if (v && (*v < kMinScreenSide || *v > kMaxScreenSide))
            return makeError(Errc::Usage, std::string(what) + " must be " + std::to_string(kMinScreenSide) + ".." +
                                              std::to_string(kMaxScreenSide) + " pixels (got " + std::to_string(*v) +
                                              ")");
    CheckedRequest c;
    try {
        c.uri = Poco::URI(req.controllerHttp);
    } catch (const Poco::Exception& e) {
        return makeError(Errc::Usage, "bad --controller-http URL: " + e.displayText());
    }
    c.scheme = c.uri.getScheme();
    if ((c.scheme != "https" && c.scheme != "http") || c.uri.getHost().empty())
        return makeError(Errc::Usage,
                         "--controller-http must be https://HOST[:PORT] (got '" + req.controllerHttp + "')");
    if (c.scheme == "http" && !req.insecureHttp)
        return makeError(Errc::Usage,
                         "refusing plain http:// enrolment: the token and the hub's key would cross the "
                         "network unprotected; use the https:// command from the console, or add "
                         "--insecure-http on a link you trust");
    if (req.token.empty()) return makeError(Errc::Usage, "--token is required");
    if (req.contentKeyHash.empty())
        return makeError(Errc::Usage,
                         "--content-key-hash is required (the enrolment command from the console carries "
                         "it: sha256:<hex> of the controller's content signing key)");
    auto contentPin = crypto::parsePin(req.contentKeyHash, "--content-key-hash");
    if (!contentPin) return contentPin.error();
    c.contentPin = *contentPin;
    if (c.scheme == "https") {
        if (req.tlsKeyHash.empty())
            return makeError(Errc::Usage,
                             "--tls-key-hash is required with https:// (the enrolment command from the "
                             "console carries it: sha256:<hex> of the controller's TLS key)");
        auto p = crypto::parsePin(req.tlsKeyHash, "--tls-key-hash");
        if (!p) return p.error();
        c.tlsPin = *p;
    } else if (!req.tlsKeyHash.empty()) {
        return makeError(Errc::Usage, "--tls-key-hash needs an https:// controller");
    }
    return c;
}

// What the controller answered, once it is known to come from the controller
// the pins name.
struct Answer {
    std::string playerId;
    crypto::PublicKey contentKey;
    std::string curveServerKey;
    std::optional<std::int64_t> hubPort;
    std::vector<std::string> hubEndpoints;  // several nodes: every node's hub
    std::optional<std::string> name;
};

// "tcp://A:1,tcp://B:2" -> its endpoints, each checked. Errors: Usage naming `what`.
Result<std::vector<std::string>> splitEndpoints(const std::string& list, const std::string& what) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= list.size()) {
        const auto comma = list.find(',', start);
        std::string e = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        while (!e.empty() && e.front() == ' ') e.erase(e.begin());
        while (!e.empty() && e.back() == ' ') e.pop_back();
        if (!wire::isHubEndpoint(e))
            return makeError(Errc::Usage, what + ": '" + e + "' is not tcp://HOST:PORT" + kNothingWritten);
        if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    if (out.empty() || out.size() > wire::kMaxHubEndpoints)
        return makeError(Errc::Usage,
                         what + ": 1.." + std::to_string(wire::kMaxHubEndpoints) + " hub endpoints" + kNothingWritten);
    return out;
}

// Step 3: the answer (shown: the controller's address, for messages).
Result<Answer> readAnswer(const HttpAnswer& answer, const std::string& contentPin, const std::string& shown) {
    auto v = json::parse(answer.body);
    if (answer.status != 201) {
        std::string msg = answer.body.substr(0, 300);
        if (v && v->isObject())
            if (auto err = v->find("error"); err && err->find("message") && err->find("message")->isString())
                msg = err->find("message")->asString();
        return makeError(Errc::Usage, "enrolment refused (HTTP " + std::to_string(answer.status) + "): " + msg);
    }
    if (!v || !v->isObject())
        return makeError(Errc::BadJson, "the controller's answer is not JSON" + std::string(kNothingWritten));
    auto pid = v->find("playerId");
    auto key = v->find("contentPublicKey");
    auto hub = v->find("hub");
    if (!pid || !pid->isString() || !key || !key->isString() || !hub || !hub->isObject())
        return makeError(Errc::BadJson, "the controller's answer lacks playerId, contentPublicKey or hub" +
                                            std::string(kNothingWritten));
    if (!manifest::isValidId(pid->asString()))
        return makeError(Errc::BadJson,
                         "the controller's answer holds an invalid playerId" + std::string(kNothingWritten));
    auto content = crypto::PublicKey::fromPem(key->asString());
    if (!content)
        return makeError(Errc::BadKey,
                         "the controller's content key is not an Ed25519 public key" + std::string(kNothingWritten));
    auto contentGot = crypto::pinOfPem(content->toPem());
    if (!contentGot) return contentGot.error();
    if (*contentGot != contentPin)
        return makeError(Errc::UnknownSigner, "refusing to enrol: the content signing key that " + shown + " sent is " +
                                                  *contentGot + ", not " + contentPin +
                                                  " as --content-key-hash says (another server may be answering in "
                                                  "its place)" +
                                                  kNothingWritten);
    auto serverKey = hub->find("curveServerKey");
    if (!serverKey || !serverKey->isString() || !isZ85Key(serverKey->asString()))
        return makeError(Errc::BadKey, "refusing to enrol: the answer of " + shown +
                                           " holds no CURVE server key for the hub, and this screen does not talk to a "
                                           "hub without encryption" +
                                           kNothingWritten);
    auto port = hub->find("port");
    if (port && (!port->isInt() || port->asInt() < 1 || port->asInt() > 65535))
        return makeError(Errc::BadJson, "the controller's answer holds a bad hub port" + std::string(kNothingWritten));
    Answer a{pid->asString(), std::move(*content), serverKey->asString(), std::nullopt, {}, std::nullopt};
    if (port) a.hubPort = port->asInt();
    if (auto eps = hub->find("endpoints"); eps && !eps->isNull()) {
        if (!eps->isArray())
            return makeError(Errc::BadJson,
                             "the controller's answer holds bad hub endpoints" + std::string(kNothingWritten));
        std::string list;
        for (const auto& e : eps->asArray()) {
            if (!e.isString())
                return makeError(Errc::BadJson,
                                 "the controller's answer holds bad hub endpoints" + std::string(kNothingWritten));
            list += (list.empty() ? "" : ",") + e.asString();
        }
        if (!list.empty()) {
            auto split = splitEndpoints(list, "the hub endpoints the controller offers");
            if (!split) return split.error();
            a.hubEndpoints = std::move(*split);
        }
    }
    if (auto name = v->find("name"); name && name->isString()) a.name = name->asString();
    return a;
}

}  // namespace

Result<PlayerConfig> enroll(const EnrollRequest& req) {
    auto checked = checkRequest(req);
    if (!checked) return checked.error();
    const Poco::URI& uri = checked->uri;
    std::vector<std::string> noOverride;
    auto hubOverride = req.hubEndpoint.empty() ? Result<std::vector<std::string>>(noOverride)
                                               : splitEndpoints(req.hubEndpoint, "--hub-endpoint");
    if (!hubOverride) return hubOverride.error();

    // 2. The screen's keys, in memory until every check has passed.
    auto identity = crypto::PrivateKey::generate();
    if (!identity) return identity.error();
    char pub[41] = {}, sec[41] = {};
    if (zmq_curve_keypair(pub, sec) != 0) return makeError(Errc::Internal, "libzmq has no CURVE support");
    const std::string curveSecret(sec, 40), curvePublic(pub, 40);

    json::Object body{{"token", req.token},
                      {"identityKey", identity->publicKey().toPem()},
                      {"curveKey", curvePublic},
                      {"software", req.software.empty() ? std::string("microscape-player") : req.software}};
    if (!req.name.empty()) body["name"] = req.name;
    if (req.width && req.height) {
        body["width"] = *req.width;
        body["height"] = *req.height;
        body["orientation"] = orientationOf(*req.width, *req.height);
    }
    const std::string shown = checked->scheme + "://" + uri.getAuthority();
    auto http = exchange(uri, checked->tlsPin, json::canonical(json::Value(body)), shown);
    if (!http) return http.error();
    auto answer = readAnswer(*http, checked->contentPin, shown);
    if (!answer) return answer.error();

    PlayerConfig c;
    c.dataDir = req.dataDir;
    c.playerId = answer->playerId;
    c.controllerHttp = req.controllerHttp;
    if (!req.hubEndpoint.empty())
        c.endpoints = *hubOverride;
    else if (!answer->hubEndpoints.empty())
        c.endpoints = answer->hubEndpoints;
    else
        c.endpoints = {"tcp://" + uri.getHost() + ":" + std::to_string(answer->hubPort.value_or(5560))};
    c.endpoint = c.endpoints.front();
    c.curve = true;
    c.serverCurveKey = answer->curveServerKey;
    c.width = req.width;
    c.height = req.height;
    c.name = answer->name.value_or(req.name);

    // 4. Every check passed: write the keys, then player.json.
    Writer w(req.dataDir);
    MS_TRY(w.makeDirs());
    MS_TRY(w.write(kIdentityKeyFile, identity->toPem(), 0600));
    MS_TRY(w.write(kCurveSecretFile, curveSecret + "\n", 0600));
    MS_TRY(w.write(kCurvePublicFile, curvePublic + "\n", 0644));
    MS_TRY(w.write(kContentKeyFile, answer->contentKey.toPem(), 0644));
    MS_TRY(saveConfig(c));
    w.keep();
    return loadConfig(req.dataDir);
}

}  // namespace microscape::player
