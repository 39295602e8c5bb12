#include "microscape/player/enroll.hpp"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>
#include <Poco/URI.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <sstream>

#include "microscape/core/json.hpp"
#include "microscape/pack/file_io.hpp"

namespace microscape::player {

namespace fs = std::filesystem;

namespace {

Status writeFileMode(const fs::path& p, const std::string& text, unsigned mode) {
    auto f = pack::AtomicFile::create(p.string(), true, mode);
    if (!f) return f.error();
    MS_TRY(f->write(text.data(), text.size()));
    return f->commit();
}

}  // namespace

Result<PlayerConfig> enroll(const EnrollRequest& req) {
    const fs::path dir = req.dataDir;
    std::error_code ec;
    if (fs::exists(dir / kConfigFile, ec))
        return makeError(Errc::Exists, (dir / kConfigFile).string() + " exists: this player is already enrolled");
    Poco::URI uri;
    try {
        uri = Poco::URI(req.controllerHttp);
    } catch (const Poco::Exception& e) {
        return makeError(Errc::Usage, "bad --controller-http URL: " + e.displayText());
    }
    if (uri.getScheme() != "http")
        return makeError(Errc::Usage, "--controller-http must be an http:// URL (put TLS in front of the controller "
                                      "and enrol over the internal address)");
    if (req.token.empty()) return makeError(Errc::Usage, "--token is required");
    std::string pinHex;
    if (!req.pin.empty()) {
        if (req.pin.rfind("sha256:", 0) != 0 || req.pin.size() != 7 + 64 ||
            req.pin.find_first_not_of("0123456789abcdefABCDEF", 7) != std::string::npos)
            return makeError(
                Errc::Usage,
                "--pin must be sha256:<64 hex digits> (the command from the console has it)");
        pinHex = Poco::toLower(req.pin.substr(7));
    } else if (!req.noPin) {
        return makeError(
            Errc::Usage,
            "--pin sha256:<hex> is required (copy the whole command from the console); "
            "--no-pin enrols without checking who answers");
    }
    if (req.width.has_value() != req.height.has_value())
        return makeError(Errc::Usage, "--width and --height go together (the screen's resolution, e.g. 1920 and 540)");
    for (auto [what, v] : {std::pair{"--width", req.width}, std::pair{"--height", req.height}})
        if (v && (*v < kMinScreenSide || *v > kMaxScreenSide))
            return makeError(Errc::Usage, std::string(what) + " must be " + std::to_string(kMinScreenSide) + ".." + std::to_string(kMaxScreenSide) +
                                              " pixels (got " + std::to_string(*v) + ")");
    // Keys are made (or reused from an earlier, interrupted attempt) in memory; nothing is written
    // before the controller's answer has passed every check.
    const fs::path idPath = dir / kIdentityKeyFile;
    std::optional<crypto::PrivateKey> identity;
    bool newIdentity = false;
    if (fs::exists(idPath, ec)) {
        auto k = crypto::PrivateKey::load(idPath.string());
        if (!k) return k.error();
        identity.emplace(std::move(*k));
    } else {
        auto k = crypto::PrivateKey::generate();
        if (!k) return k.error();
        identity.emplace(std::move(*k));
        newIdentity = true;
    }
    std::string curveSecret, curvePublic;
    bool newCurve = false;
    const fs::path secPath = dir / kCurveSecretFile;
    if (fs::exists(secPath, ec)) {
        auto t = crypto::readSmallFile(secPath.string(), 256);
        if (!t) return t.error();
        curveSecret = t->substr(0, 40);
        char pub[41] = {};
        if (zmq_curve_public(pub, curveSecret.c_str()) != 0) return makeError(Errc::BadKey, secPath.string() + " is damaged");
        curvePublic.assign(pub, 40);
    } else {
        char pub[41] = {}, sec[41] = {};
        if (zmq_curve_keypair(pub, sec) != 0) return makeError(Errc::Internal, "libzmq has no CURVE support");
        curveSecret.assign(sec, 40);
        curvePublic.assign(pub, 40);
        newCurve = true;
    }

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
    const std::string payload = json::canonical(json::Value(body));

    std::string answer;
    int status = 0;
    try {
        Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
        session.setTimeout(Poco::Timespan(30, 0));
        std::string path = uri.getPath();
        while (!path.empty() && path.back() == '/') path.pop_back();
        Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, path + "/api/v1/enroll",
                                       Poco::Net::HTTPMessage::HTTP_1_1);
        request.setContentType("application/json");
        request.setContentLength(static_cast<std::streamsize>(payload.size()));
        session.sendRequest(request) << payload;
        Poco::Net::HTTPResponse response;
        std::istream& in = session.receiveResponse(response);
        std::ostringstream out;
        Poco::StreamCopier::copyStream(in, out, 8192);
        answer = out.str();
        status = static_cast<int>(response.getStatus());
    } catch (const Poco::Exception& e) {
        return makeError(Errc::Io, "cannot reach " + req.controllerHttp + ": " + e.displayText());
    }
    auto v = json::parse(answer);
    if (status != 201) {
        std::string msg = answer.substr(0, 300);
        if (v && v->isObject())
            if (auto err = v->find("error"); err && err->find("message") && err->find("message")->isString())
                msg = err->find("message")->asString();
        return makeError(Errc::Usage, "enrolment refused (HTTP " + std::to_string(status) + "): " + msg);
    }
    if (!v || !v->isObject()) return makeError(Errc::BadJson, "the controller's answer is not JSON");
    auto pid = v->find("playerId");
    auto key = v->find("contentPublicKey");
    auto hub = v->find("hub");
    if (!pid || !pid->isString() || !key || !key->isString() || !hub || !hub->isObject())
        return makeError(Errc::BadJson, "the controller's answer lacks playerId, contentPublicKey or hub");
    auto content = crypto::PublicKey::fromPem(key->asString());
    if (!content) return content.error();
    if (!pinHex.empty() && content->id() != pinHex)
        return makeError(Errc::BadKey,
                         "REFUSED: the controller at " + req.controllerHttp +
                             " answered with content key sha256:" + content->id() +
                             ", not the pinned " + req.pin +
                             " (wrong address or someone in between); nothing was written");
    auto port = hub->find("port");
    auto serverKey = hub->find("curveServerKey");
    if (!serverKey || !serverKey->isString() || serverKey->asString().size() != 40)
        return makeError(
            Errc::BadJson,
            "REFUSED: the controller's answer has no CURVE server key (hub.curveServerKey); "
            "an unencrypted hub link is not accepted; nothing was written");

    PlayerConfig c;
    c.dataDir = dir;
    c.playerId = pid->asString();
    c.controllerHttp = req.controllerHttp;
    c.endpoint = !req.hubEndpoint.empty()
                     ? req.hubEndpoint
                     : "tcp://" + uri.getHost() + ":" + std::to_string(port && port->isInt() ? port->asInt() : 5560);
    c.curve = true;
    c.serverCurveKey = serverKey->asString();
    c.width = req.width;
    c.height = req.height;
    auto name = v->find("name");
    c.name = name && name->isString() ? name->asString() : req.name;

    // Every check passed: now write.
    fs::create_directories(dir / "keys", ec);
    if (ec)
        return makeError(Errc::Io,
                         "cannot create " + (dir / "keys").string() + ": " + ec.message());
    ::chmod((dir / "keys").c_str(), 0700);
    if (newIdentity) MS_TRY(identity->save(idPath.string()));
    if (newCurve) MS_TRY(writeFileMode(secPath, curveSecret + "\n", 0600));
    MS_TRY(writeFileMode(dir / kCurvePublicFile, curvePublic + "\n", 0644));
    MS_TRY(writeFileMode(dir / kContentKeyFile, content->toPem(), 0644));
    MS_TRY(saveConfig(c));
    return loadConfig(dir);
}

}  // namespace microscape::player
