// What a screen shows in the slot of an item that failed on it (docs/player-screen.md):
// the rule the player's engine applies and the controller's preview repeats.
// Pure function over plain values; thread-safe.
#pragma once

#include <functional>
#include <string>

#include "microscape/core/schedule.hpp"

namespace microscape::schedule {

// The decision d (the schedule's own, at some instant) with a failed item's
// slot given to a stand-in: the next item of the rotation after it that did
// not fail, else the filler's item at the slot's start (when d is not itself
// the filler), else Idle (the status card). The stand-in keeps the failed
// item's slot (start, end, offset), so every other item keeps its own slot.
// d is returned unchanged when it is not Playing or its media did not fail.
// failed(sha256): whether that media failed on this screen.
Decision standIn(const Schedule& s, const Decision& d, const std::function<bool(const std::string&)>& failed);

}  // namespace microscape::schedule
