#include "microscape/core/stand_in.hpp"

#include <optional>

namespace microscape::schedule {

Decision standIn(const Schedule& s, const Decision& d, const std::function<bool(const std::string&)>& failed) {
    if (d.state != State::Playing || !failed(d.mediaSha256)) return d;
    auto good = [&](const Decision& g) { return g.state == State::Playing && !failed(g.mediaSha256); };
    std::optional<Decision> g;
    // The rotation goes on from the failed item's slot end; bounded so that a
    // playlist where everything failed ends the search.
    std::int64_t t = d.itemEndUtcMs;
    for (int i = 0; i < 64 && t < d.itemEndUtcMs + kDayMs; ++i) {
        Decision n = evaluate(s, t);
        if (n.state != State::Playing) break;
        if (good(n)) {
            g = std::move(n);
            break;
        }
        if (n.itemEndUtcMs <= t) break;
        t = n.itemEndUtcMs;
    }
    if (!g && s.fillerPlaylistId && d.source != Source::Filler) {
        Schedule fillerOnly = s;
        fillerOnly.entries.clear();
        fillerOnly.takeovers.clear();
        Decision f = evaluate(fillerOnly, d.itemStartUtcMs);
        if (good(f)) g = std::move(f);
    }
    if (!g) {
        Decision idle;
        idle.state = State::Idle;
        idle.nextChangeUtcMs = d.nextChangeUtcMs;
        return idle;
    }
    Decision out = std::move(*g);
    out.itemStartUtcMs = d.itemStartUtcMs;
    out.itemEndUtcMs = d.itemEndUtcMs;
    out.offsetMs = d.offsetMs;
    out.nextChangeUtcMs = d.nextChangeUtcMs;
    return out;
}

}  // namespace microscape::schedule
