// Test support: a player on a raw ZeroMQ DEALER (no player program), enrolled
// through the real API, for tests of the hub's side of the wire protocol.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "microscape/controller/hub.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/wire.hpp"
#include "test_support.hpp"

namespace microscape::testing {

struct Enrolled {
    std::string id;
    std::string endpoint;
    std::string serverKey;
};

// Enrols a player with this CURVE key and identity (PEM) through the API.
inline Enrolled enroll(TestServer& srv, Client& admin, const controller::CurveKeyPair& curve,
                       const std::string& identityPem) {
    auto t = admin.post("/api/v1/enrollment-tokens", R"({"name":"raw"})");
    REQUIRE(t.status == 201);
    Poco::JSON::Object::Ptr e = new Poco::JSON::Object;
    e->set("token", t.json()->getValue<std::string>("token"));
    e->set("identityKey", identityPem);
    e->set("curveKey", curve.publicZ85);
    auto r = srv.client().post("/api/v1/enroll", jsonString(e));
    INFO(r.body);
    REQUIRE(r.status == 201);
    auto hub = r.json()->getObject("hub");
    return {r.json()->getValue<std::string>("playerId"),
            "tcp://127.0.0.1:" + std::to_string(hub->getValue<int>("port")),
            hub->getValue<std::string>("curveServerKey")};
}

inline std::string newIdentityPem() {
    return crypto::PrivateKey::generate().value().publicKey().toPem();
}

struct RawPlayer {
    zmq::socket_t sock;
    RawPlayer(zmq::context_t& ctx, const Enrolled& hub, const std::string& routingId,
              const controller::CurveKeyPair& key, bool reconnect = true)
        : sock(ctx, zmq::socket_type::dealer) {
        sock.set(zmq::sockopt::linger, 0);
        // A refused player has no connection to queue on: a send gives up instead
        // of blocking the test (what it sent is then simply not delivered).
        sock.set(zmq::sockopt::sndtimeo, 1000);
        sock.set(zmq::sockopt::routing_id, routingId);
        sock.set(zmq::sockopt::curve_serverkey, hub.serverKey);
        sock.set(zmq::sockopt::curve_publickey, key.publicZ85);
        sock.set(zmq::sockopt::curve_secretkey, key.secretZ85);
        if (!reconnect) sock.set(zmq::sockopt::reconnect_ivl, -1);
        sock.connect(hub.endpoint);
    }
    void send(const wire::Envelope& e) {
        auto frames = wire::encode(e);
        for (std::size_t i = 0; i < frames.size(); ++i)
            if (!sock.send(zmq::buffer(frames[i]),
                           i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none))
                return;  // timed out: not delivered (only the first frame can time out)
    }
    void hello(const std::string& id) {
        wire::Hello h;
        h.playerId = id;
        h.software = "security-test";
        send(wire::toEnvelope(h));
    }
    // The next message (of type want, if given) within timeoutMs.
    std::optional<wire::Envelope> recv(int timeoutMs, std::optional<wire::Type> want = std::nullopt) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
        do {
            zmq::pollitem_t item{sock.handle(), 0, ZMQ_POLLIN, 0};
            zmq::poll(&item, 1, std::chrono::milliseconds(20));
            if (!(item.revents & ZMQ_POLLIN)) continue;
            std::vector<zmq::message_t> parts;
            if (!zmq::recv_multipart(sock, std::back_inserter(parts))) continue;
            std::vector<std::string_view> frames;
            for (auto& p : parts) frames.emplace_back(p.data<char>(), p.size());
            auto env = wire::decode(frames);
            if (!env) continue;
            if (want && env->type != *want) continue;
            return *env;
        } while (std::chrono::steady_clock::now() < until);
        return std::nullopt;
    }
};

// HELLO (again every 300 ms, as a player does while it waits) until WELCOME.
inline bool helloUntilWelcome(RawPlayer& p, const std::string& id, int timeoutMs) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (std::chrono::steady_clock::now() < until) {
        p.hello(id);
        if (p.recv(300, wire::Type::Welcome)) return true;
    }
    return false;
}

}  // namespace microscape::testing
