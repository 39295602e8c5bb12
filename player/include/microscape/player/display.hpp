// Display mode (`run --display`): a fullscreen, borderless, cursor-less X11
// window (Xlib; XWayland covers Wayland sessions) that shows the frames the
// playback engine composes in memory. The window shows exactly the engine's
// frames, so the preview, the screenshot and the proof-of-play frame digest are
// the pixels on the glass (docs/player.md, "Output modes").
//
// Threads: open() and the accessors may be called from any thread. After
// start(), only the presenter thread touches Xlib; it polls the frame source,
// draws when the pixels changed, answers Expose, maps the window again when it
// is unmapped and makes a new one when it is destroyed. If the X server goes
// away, the presenter marks the display lost and parks itself for good (Xlib
// cannot continue on a dead connection); the owner then shuts down and exits
// non-zero. Only one X11Display may exist at a time (Xlib's I/O error handler is
// process-wide).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "microscape/core/clock.hpp"
#include "microscape/core/result.hpp"
#include "microscape/player/engine_frame.hpp"

namespace Poco {
class Logger;
}

namespace microscape::player {

struct DisplayOptions {
    std::string displayName;                  // "" = $DISPLAY
    int pollIntervalMs = 40;                  // how often the frame source is asked (25 per second)
    std::string title = "microscape-player";  // WM_NAME / _NET_WM_NAME (UTF-8)
    const Clock* clock = nullptr;             // paces the polls; null: the system's (must outlive the display)
};

struct DisplayStats {
    std::int64_t polls = 0;      // frames asked of the source
    std::int64_t presented = 0;  // frames drawn because their pixels changed
    std::int64_t exposures = 0;  // redraws asked by the X server
    std::int64_t remapped = 0;   // the window was unmapped and mapped again
    std::int64_t recreated = 0;  // the window was destroyed and made again
    bool sharedMemory = false;   // MIT-SHM in use (else XPutImage over the socket)
};

class X11Display {
  public:
    // Connects to the X server and checks its default visual (TrueColor, 24 or
    // 32 bits deep, 8 bits per channel). Makes no window yet.
    // Errors: Io (no X server at that name), Usage (unsupported visual).
    static Result<std::unique_ptr<X11Display>> open(DisplayOptions options, Poco::Logger& log);
    ~X11Display();  // stops; leaves a lost connection alone
    X11Display(const X11Display&) = delete;
    X11Display& operator=(const X11Display&) = delete;

    // The X screen's size in pixels (as of open(), then as RandR changes it).
    int screenWidth() const { return screenW_.load(); }
    int screenHeight() const { return screenH_.load(); }
    std::string name() const { return name_; }

    // Makes and maps the window over the whole screen and starts the presenter
    // thread, which calls `source` (e.g. Engine::snapshot) every pollIntervalMs
    // and centres the frame on black (letterbox, or a centre crop when the frame
    // is larger than the screen). `source` must be thread-safe. Call once.
    void start(std::function<Frame()> source);
    // Ends the presenter and closes the window and connection. Idempotent.
    void stop();

    // True once the X server has gone away (the connection is unusable).
    bool lost() const { return lost_.load(); }
    DisplayStats stats() const;

    struct X;  // Xlib state (display_x11.cpp)

  private:
    X11Display(DisplayOptions options, Poco::Logger& log);
    // The presenter thread: set up the window, then turns of handleXEvents and
    // presentNext until stop(); then tear down.
    void run(std::function<Frame()> source);
    // One turn's part, on the presenter thread. Each sets redraw (and clear,
    // when the black around the frame must be painted again) as needed.
    void handleXEvents(bool& redraw, bool& clear);
    void presentNext(const std::function<Frame()>& source, std::vector<std::uint8_t>& ownBuffer, bool& redraw,
                     bool& clear);
    void draw(bool clear);
    struct Hooks;  // Xlib's error handlers
    friend struct Hooks;

    DisplayOptions options_;
    Poco::Logger& log_;
    std::string name_;
    std::unique_ptr<X> x_;  // Xlib state: opened by open(), then the presenter's
    std::atomic<int> screenW_{0}, screenH_{0};
    std::atomic<bool> stop_{false};
    std::atomic<bool> lost_{false};
    std::atomic<bool> started_{false};
    std::thread thread_;
    mutable std::mutex statsMutex_;  // guards stats_
    DisplayStats stats_;
};

}  // namespace microscape::player
