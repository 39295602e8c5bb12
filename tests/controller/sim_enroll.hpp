// Test support: enrols a simulated player (ingest_sim.hpp) through the real
// enrolment API with its own identity key, at a location if given.
#pragma once

#include <catch2/catch.hpp>
#include <optional>

#include "ingest_sim.hpp"
#include "test_support.hpp"

namespace microscape::testing {

inline void enrollSim(TestServer& srv, Client& admin, SimPlayer& p, std::optional<int> locationId) {
    Poco::JSON::Object::Ptr t = new Poco::JSON::Object;
    t->set("name", "screen");
    if (locationId) t->set("locationId", *locationId);
    auto tr = admin.post("/api/v1/enrollment-tokens", jsonString(t));
    REQUIRE(tr.status == 201);
    Poco::JSON::Object::Ptr e = new Poco::JSON::Object;
    e->set("token", tr.json()->getValue<std::string>("token"));
    e->set("identityKey", p.publicPem());
    e->set("curveKey", makePlayerKeys().curveZ85);
    Client anon = srv.client();
    auto er = anon.post("/api/v1/enroll", jsonString(e));
    INFO(er.body);
    REQUIRE(er.status == 201);
    p.id = er.json()->getValue<std::string>("playerId");
}

}  // namespace microscape::testing
