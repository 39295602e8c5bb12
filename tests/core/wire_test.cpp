// Wire message model: round trips, frame layout and every rejection path.
#include <catch2/catch.hpp>

#include "microscape/core/wire.hpp"

using namespace microscape;
using namespace microscape::wire;

namespace {

std::vector<std::string_view> views(const std::vector<std::string>& frames) {
    return std::vector<std::string_view>(frames.begin(), frames.end());
}

Result<Envelope> roundTrip(const Envelope& e) {
    auto frames = encode(e);
    return decode(views(frames));
}

const std::string kSha(64, 'a');

}  // namespace

TEST_CASE("every message type survives encode and decode", "[wire]") {
    SECTION("HELLO") {
        Hello h{kProtocolVersion, "scr-0123", "microscape-player 0.1.0", 7, "b-7", 8};
        auto e = roundTrip(toEnvelope(h));
        REQUIRE(e.ok());
        auto back = parseHello(*e);
        REQUIRE(back.ok());
        CHECK(back->playerId == "scr-0123");
        CHECK(back->activeVersion == 7);
        CHECK(back->stagedVersion == 8);
        CHECK(back->activeBundleId == "b-7");
    }
    SECTION("WELCOME") {
        Welcome w{1, 1700000000000, 250, 9, 65536, 16, 0, {}, {}};
        auto back = parseWelcome(*roundTrip(toEnvelope(w)));
        REQUIRE(back.ok());
        CHECK(back->heartbeatMs == 250);
        CHECK(back->maxChunkBytes == 65536);
        CHECK(back->maxWindow == 16);
        CHECK(back->currentVersion == 9);
    }
    SECTION("MANIFEST carries the exact bytes and a 64-byte signature") {
        ManifestPush m{3, "{\"a\":1}", std::string(64, '\x07')};
        auto e = roundTrip(toEnvelope(m));
        REQUIRE(e.ok());
        REQUIRE(e->payload);
        auto back = parseManifestPush(*e);
        REQUIRE(back.ok());
        CHECK(back->manifestBytes == "{\"a\":1}");
        CHECK(back->signature == std::string(64, '\x07'));
    }
    SECTION("FETCH and CHUNK") {
        auto f = parseFetch(*roundTrip(toEnvelope(Fetch{kSha, 1u << 20, 4096})));
        REQUIRE(f.ok());
        CHECK(f->offset == (1u << 20));
        CHECK(f->length == 4096);
        std::string data(1000, '\0');
        auto c = parseChunk(*roundTrip(toEnvelope(Chunk{kSha, 24, 1024, data})));
        REQUIRE(c.ok());
        CHECK(c->data == data);
        CHECK(c->totalBytes == 1024);
    }
    SECTION("STATUS with a playback object") {
        StatusReport s;
        s.activeVersion = 4;
        s.syncState = SyncState::DiskFull;
        s.lastError = "no space";
        s.clockOffsetMs = -1500;
        s.playback = json::Object{{"media", "x"}};
        auto back = parseStatus(*roundTrip(toEnvelope(s)));
        REQUIRE(back.ok());
        CHECK(back->syncState == SyncState::DiskFull);
        CHECK(back->clockOffsetMs == -1500);
        CHECK(back->playback.at("media").asString() == "x");
        // Every state by its name, and no state outside the list.
        for (auto st : {SyncState::Idle, SyncState::Fetching, SyncState::DiskFull, SyncState::Error})
            CHECK(syncStateFromName(syncStateName(st)) == st);
        Envelope bogus = toEnvelope(s);
        bogus.header["sync_state"] = "rebooting";
        CHECK_FALSE(parseStatus(bogus).ok());
        bogus.header.erase("sync_state");
        auto idle = parseStatus(bogus);
        REQUIRE(idle.ok());
        CHECK(idle->syncState == SyncState::Idle);  // absent: idle
    }
    SECTION("COMMAND, COMMAND_ACK with a payload, ERROR, PROOFS") {
        auto c = parseCommand(*roundTrip(toEnvelope(Command{"c1", CommandAction::ClearCache})));
        REQUIRE(c.ok());
        CHECK(c->action == CommandAction::ClearCache);
        for (auto action : {CommandAction::Reload, CommandAction::Screenshot, CommandAction::ShowHead}) {
            auto again = parseCommand(*roundTrip(toEnvelope(Command{"c2", action})));
            REQUIRE(again.ok());
            CHECK(again->action == action);
        }
        CHECK(commandActionName(CommandAction::ShowHead) == "show_head");
        auto a = parseCommandAck(*roundTrip(toEnvelope(CommandAck{"c1", true, "done", std::string("PNG")})));
        REQUIRE(a.ok());
        CHECK(a->ok);
        CHECK(*a->payload == "PNG");
        auto er = parseError(*roundTrip(toEnvelope(ErrorMsg{"not_in_manifest", "no", kSha})));
        REQUIRE(er.ok());
        CHECK(er->ref == kSha);
        auto p = parseProofs(*roundTrip(toEnvelope(Proofs{1, 5, "[]"})));
        REQUIRE(p.ok());
        CHECK(p->lastSeq == 5);
    }
}

TEST_CASE("decode rejects malformed frames", "[wire]") {
    SECTION("frame counts") {
        CHECK(decode({}).code() == Errc::BadManifest);
        CHECK(decode({"HELLO"}).code() == Errc::BadManifest);
        CHECK(decode({"CHUNK", "{}", "x", "y"}).code() == Errc::BadManifest);
    }
    SECTION("unknown types are reported as Usage") {
        CHECK(decode({"BOGUS", "{}"}).code() == Errc::Usage);
        CHECK(decode({std::string_view("\0\xff", 2), "{}"}).code() == Errc::Usage);
        CHECK(decode({"HELLOHELLOHELLOHELLO", "{}"}).code() == Errc::BadManifest);
    }
    SECTION("headers must be small strict JSON objects") {
        CHECK(decode({"HEARTBEAT", "[1]"}).code() == Errc::BadJson);
        CHECK(decode({"HEARTBEAT", "{\"a\":1,\"a\":2}"}).code() == Errc::BadJson);
        CHECK(decode({"HEARTBEAT", "{\"a\":1.5}"}).code() == Errc::BadJson);
        CHECK(decode({"HEARTBEAT", "not json"}).code() == Errc::BadJson);
        std::string big = "{\"a\":\"" + std::string(kMaxHeaderBytes, 'x') + "\"}";
        CHECK(decode({"HEARTBEAT", big}).code() == Errc::TooLarge);
    }
    SECTION("payload rules per type") {
        CHECK(decode({"HEARTBEAT", "{}", "x"}).code() == Errc::BadManifest);
        CHECK(decode({"CHUNK", "{}"}).code() == Errc::BadManifest);
        CHECK(decode({"MANIFEST", "{}"}).code() == Errc::BadManifest);
        std::string huge(kMaxPayloadBytes + 1, 'x');
        CHECK(decode({"CHUNK", "{}", huge}).code() == Errc::TooLarge);
        CHECK(decode({"COMMAND_ACK", "{\"id\":\"x\"}"}).ok());
    }
}

TEST_CASE("typed parsers reject missing, mistyped and out-of-range fields", "[wire]") {
    auto env = [](const char* type, const char* header, std::optional<std::string> payload = std::nullopt) {
        std::vector<std::string> frames{type, header};
        if (payload) frames.push_back(*payload);
        auto e = decode(views(frames));
        REQUIRE(e.ok());
        return *e;
    };
    CHECK(parseHello(env("HELLO", "{}")).code() == Errc::BadManifest);
    CHECK(parseHello(env("HELLO", R"({"player":"p","protocol":"1"})")).code() == Errc::BadManifest);
    CHECK(parseHello(env("HELLO", R"({"player":"a/b","protocol":1})")).code() == Errc::BadManifest);
    CHECK(parseHello(env("HELLO", R"({"player":"p","protocol":1,"active_version":-1})")).code() == Errc::BadManifest);
    CHECK(parseHello(env("HELLO", R"({"player":"p","protocol":1,"extra":true})")).ok());
    CHECK(parseFetch(env("FETCH", R"({"sha256":"AB","offset":0,"length":1})")).code() == Errc::BadManifest);
    CHECK(parseFetch(env("FETCH", (R"({"sha256":")" + kSha + R"(","offset":0,"length":0})").c_str())).code() ==
          Errc::BadManifest);
    CHECK(parseFetch(env("FETCH", (R"({"sha256":")" + kSha + R"(","offset":0,"length":2000000})").c_str())).code() ==
          Errc::BadManifest);
    CHECK(parseChunk(env("CHUNK", (R"({"sha256":")" + kSha + R"(","offset":10,"total":12})").c_str(), "abcd")).code() ==
          Errc::BadManifest);
    CHECK(parseManifestPush(env("MANIFEST", R"({"version":1,"signature":"AAAA"})", "{}")).code() == Errc::BadManifest);
    CHECK(parseCommand(env("COMMAND", R"({"id":"x","action":"format_disk"})")).code() == Errc::BadManifest);
    CHECK(parseWelcome(env("WELCOME", R"({"protocol":1,"time_ms":0,"heartbeat_ms":1000,"max_chunk":1,"max_window":4})"))
              .code() == Errc::BadManifest);
    SECTION("a parser refuses the wrong type") {
        CHECK(parseHello(env("HEARTBEAT", "{}")).code() == Errc::Usage);
    }
}
