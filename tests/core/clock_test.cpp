// The clock seam: the manual clock moves only when told; the system clock's
// steady reading never goes back.
#include <catch2/catch.hpp>

#include "microscape/core/clock.hpp"

using namespace microscape;

TEST_CASE("a manual clock moves only when told to", "[clock]") {
    ManualClock c(1'744'646'400'000, 5'000'000);
    CHECK(c.wallMs() == 1'744'646'400'000);
    CHECK(c.steadyMs() == 5'000);
    c.advance(250);
    CHECK(c.wallMs() == 1'744'646'400'250);
    CHECK(c.steadyUs() == 5'250'000);
    SECTION("a wall step leaves the steady clock alone") {
        c.setWall(1'000);
        CHECK(c.wallMs() == 1'000);
        CHECK(c.steadyUs() == 5'250'000);
    }
}

TEST_CASE("the system clock's steady reading never goes back", "[clock]") {
    const Clock& c = systemClock();
    std::int64_t last = c.steadyUs();
    for (int i = 0; i < 1000; ++i) {
        std::int64_t t = c.steadyUs();
        CHECK(t >= last);
        last = t;
    }
    CHECK(c.wallMs() > 0);
}
