#include "microscape/player/display.hpp"

#include <Poco/Logger.h>
#include <poll.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

// Xlib last: it defines macros (Status, Bool, None) that clash with C++ names.
#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/XShm.h>

namespace microscape::player {

namespace {

// The one display whose connection Xlib's process-wide handlers report on.
std::atomic<X11Display*> gActive{nullptr};
std::atomic<int> gLastXError{0};  // the last protocol error code seen (0: none)

}  // namespace

struct X11Display::X {
    Display* dpy = nullptr;
    int screen = 0;
    Window root = 0;
    Visual* visual = nullptr;
    int depth = 0;
    Window win = 0;
    GC gc = nullptr;
    Cursor blankCursor = 0;
    Atom wmDelete = 0;
    // The frame being shown, as an XImage over our own buffer (shared memory when
    // the server offers MIT-SHM on this machine).
    XImage* image = nullptr;
    XShmSegmentInfo shm{};
    bool useShm = false;
    int frameW = 0, frameH = 0;
};

struct X11Display::Hooks {
    // The X server went away (or the connection broke). Xlib exits the process if
    // this returns, and nothing may use the connection again: mark the display
    // lost and park this thread for good; the owner shuts down and exits.
    static int onIoError(Display*) {
        if (X11Display* d = gActive.load()) {
            d->log_.critical("X server %s: connection lost; the player stops so that its service restarts it",
                             d->name_);
            d->lost_ = true;
        }
        for (;;) ::pause();
    }
    // A protocol error (a window destroyed under us, MIT-SHM refused over a
    // remote connection): remembered and logged, never fatal.
    static int onError(Display* dpy, XErrorEvent* e) {
        char text[160] = {};
        XGetErrorText(dpy, e->error_code, text, sizeof text);
        gLastXError = e->error_code;
        if (X11Display* d = gActive.load())
            d->log_.warning("X error %d (%s), request %d.%d", static_cast<int>(e->error_code), std::string(text),
                            static_cast<int>(e->request_code), static_cast<int>(e->minor_code));
        return 0;
    }
};

namespace {

void freeImage(X11Display::X& x);

}  // namespace

X11Display::X11Display(DisplayOptions options, Poco::Logger& log)
    : options_(std::move(options)), log_(log), x_(std::make_unique<X>()) {}

Result<std::unique_ptr<X11Display>> X11Display::open(DisplayOptions options, Poco::Logger& log) {
    const char* envName = ::getenv("DISPLAY");
    const std::string name = !options.displayName.empty() ? options.displayName : (envName ? envName : "");
    if (name.empty())
        return makeError(Errc::Io,
                         "display mode needs an X display: DISPLAY is not set (run inside the screen's "
                         "graphical session, or use --headless)");
    X11Display* expected = nullptr;
    std::unique_ptr<X11Display> d(new X11Display(std::move(options), log));
    if (!gActive.compare_exchange_strong(expected, d.get()))
        return makeError(Errc::Usage, "only one X11 display per process");
    d->name_ = name;
    XSetIOErrorHandler(&Hooks::onIoError);
    XSetErrorHandler(&Hooks::onError);
    X& x = *d->x_;
    x.dpy = XOpenDisplay(name.c_str());
    if (!x.dpy) {
        gActive = nullptr;
        return makeError(Errc::Io, "cannot open X display " + name +
                                       " (no X server there, or no permission: "
                                       "check DISPLAY and XAUTHORITY)");
    }
    x.screen = DefaultScreen(x.dpy);
    x.root = RootWindow(x.dpy, x.screen);
    x.visual = DefaultVisual(x.dpy, x.screen);
    x.depth = DefaultDepth(x.dpy, x.screen);
    if (x.visual->c_class != TrueColor || (x.depth != 24 && x.depth != 32) || x.visual->red_mask != 0xff0000 ||
        x.visual->green_mask != 0xff00 || x.visual->blue_mask != 0xff) {
        XCloseDisplay(x.dpy);
        x.dpy = nullptr;
        gActive = nullptr;
        return makeError(Errc::Usage, "X display " + name + ": the default visual is not 24-bit TrueColor (depth " +
                                          std::to_string(x.depth) + "); set the screen to 24-bit colour");
    }
    d->screenW_ = DisplayWidth(x.dpy, x.screen);
    d->screenH_ = DisplayHeight(x.dpy, x.screen);
    int major = 0, minor = 0;
    Bool pixmaps = False;
    int opcode = 0, event = 0,
        error = 0;  // asked first: XShmQueryVersion complains on stderr when it is missing
    x.useShm = XQueryExtension(x.dpy, "MIT-SHM", &opcode, &event, &error) == True &&
               XShmQueryVersion(x.dpy, &major, &minor, &pixmaps) == True;
    return d;
}

X11Display::~X11Display() {
    stop();
    X11Display* self = this;
    gActive.compare_exchange_strong(self, nullptr);
}

DisplayStats X11Display::stats() const {
    std::lock_guard lock(statsMutex_);
    return stats_;
}

namespace {

Window makeWindow(X11Display::X& x, int w, int h, const std::string& title) {
    XSetWindowAttributes a{};
    a.background_pixel = BlackPixel(x.dpy, x.screen);
    a.border_pixel = 0;
    a.event_mask = ExposureMask | StructureNotifyMask;
    a.cursor = x.blankCursor;
    Window win =
        XCreateWindow(x.dpy, x.root, 0, 0, static_cast<unsigned>(w), static_cast<unsigned>(h), 0, CopyFromParent,
                      InputOutput, CopyFromParent, CWBackPixel | CWBorderPixel | CWEventMask | CWCursor, &a);
    // Names for people and window managers.
    XStoreName(x.dpy, win, "microscape-player");
    const Atom utf8 = XInternAtom(x.dpy, "UTF8_STRING", False);
    XChangeProperty(x.dpy, win, XInternAtom(x.dpy, "_NET_WM_NAME", False), utf8, 8, PropModeReplace,
                    reinterpret_cast<const unsigned char*>(title.data()), static_cast<int>(title.size()));
    XClassHint cls{const_cast<char*>("microscape-player"), const_cast<char*>("Microscape")};
    XSetClassHint(x.dpy, win, &cls);
    // No decorations (Motif hints: flags = decorations, decorations = none).
    const long motif[5] = {2, 0, 0, 0, 0};
    const Atom motifAtom = XInternAtom(x.dpy, "_MOTIF_WM_HINTS", False);
    XChangeProperty(x.dpy, win, motifAtom, motifAtom, 32, PropModeReplace,
                    reinterpret_cast<const unsigned char*>(motif), 5);
    // Fullscreen for an EWMH window manager; without one (a bare X server, a
    // kiosk session) the window already covers the screen at 0,0.
    Atom fullscreen = XInternAtom(x.dpy, "_NET_WM_STATE_FULLSCREEN", False);
    XChangeProperty(x.dpy, win, XInternAtom(x.dpy, "_NET_WM_STATE", False), XA_ATOM, 32, PropModeReplace,
                    reinterpret_cast<const unsigned char*>(&fullscreen), 1);
    XSizeHints hints{};
    hints.flags = PPosition | PSize | PMinSize;
    hints.width = hints.min_width = w;
    hints.height = hints.min_height = h;
    XSetWMNormalHints(x.dpy, win, &hints);
    XSetWMProtocols(x.dpy, win, &x.wmDelete, 1);
    XMapRaised(x.dpy, win);
    return win;
}

void freeImage(X11Display::X& x) {
    if (!x.image) return;
    if (x.shm.shmaddr) {
        XShmDetach(x.dpy, &x.shm);
        XSync(x.dpy, False);
        ::shmdt(x.shm.shmaddr);
        x.shm = {};
    }
    x.image->data = nullptr;  // ours (shared segment, detached above) or freed below
    XDestroyImage(x.image);
    x.image = nullptr;
}

// An XImage of w x h over a buffer in BGRX order (LSBFirst 32-bit pixels
// 0x00RRGGBB, which Xlib byte-swaps for a big-endian server).
bool makeImage(X11Display::X& x, int w, int h, std::vector<std::uint8_t>& ownBuffer, Poco::Logger& log) {
    freeImage(x);
    x.frameW = w;
    x.frameH = h;
    if (x.useShm) {
        x.image = XShmCreateImage(x.dpy, x.visual, static_cast<unsigned>(x.depth), ZPixmap, nullptr, &x.shm,
                                  static_cast<unsigned>(w), static_cast<unsigned>(h));
        if (x.image && x.image->bits_per_pixel == 32 && x.image->bytes_per_line == w * 4) {
            // Readable by others: the X server may run as another user (a rootless
            // Xorg of the kiosk session) and attaches read-only. The pixels are
            // what the screen shows in public anyway.
            x.shm.shmid = ::shmget(IPC_PRIVATE, static_cast<std::size_t>(w) * h * 4, IPC_CREAT | 0644);
            void* addr = x.shm.shmid >= 0 ? ::shmat(x.shm.shmid, nullptr, 0) : reinterpret_cast<void*>(-1);
            if (x.shm.shmid >= 0) ::shmctl(x.shm.shmid, IPC_RMID, nullptr);  // freed when both sides detach
            if (addr != reinterpret_cast<void*>(-1)) {
                x.shm.shmaddr = x.image->data = static_cast<char*>(addr);
                x.shm.readOnly = True;
                gLastXError = 0;
                XShmAttach(x.dpy, &x.shm);
                XSync(x.dpy, False);
                if (gLastXError == 0) {
                    x.image->byte_order = LSBFirst;
                    return true;
                }
                ::shmdt(addr);  // refused (a remote server): never attached
            }
            x.shm = {};
        }
        if (x.image) {
            x.image->data = nullptr;
            XDestroyImage(x.image);
            x.image = nullptr;
        }
        log.information("MIT-SHM unavailable for this connection; frames go over the X socket");
        x.useShm = false;
    }
    ownBuffer.assign(static_cast<std::size_t>(w) * h * 4, 0);
    x.image = XCreateImage(x.dpy, x.visual, static_cast<unsigned>(x.depth), ZPixmap, 0,
                           reinterpret_cast<char*>(ownBuffer.data()), static_cast<unsigned>(w),
                           static_cast<unsigned>(h), 32, w * 4);
    if (!x.image) return false;
    x.image->byte_order = LSBFirst;
    return x.image->bits_per_pixel == 32 && x.image->bytes_per_line == w * 4;
}

}  // namespace

void X11Display::start(std::function<Frame()> source) {
    if (started_.exchange(true)) return;
    thread_ = std::thread([this, source = std::move(source)]() mutable { run(std::move(source)); });
}

void X11Display::stop() {
    stop_ = true;
    if (!thread_.joinable()) {
        if (!started_ && x_->dpy && !lost_) {
            XCloseDisplay(x_->dpy);
            x_->dpy = nullptr;
        }
        return;
    }
    if (lost_) {
        // The presenter is parked inside Xlib's I/O error handler for good.
        thread_.detach();
        return;
    }
    thread_.join();
}

void X11Display::run(std::function<Frame()> source) {
    X& x = *x_;
    std::vector<std::uint8_t> ownBuffer;  // the image's pixels when not in shared memory
    {
        char data[1] = {0};
        XColor black{};
        Pixmap empty = XCreateBitmapFromData(x.dpy, x.root, data, 1, 1);
        x.blankCursor = XCreatePixmapCursor(x.dpy, empty, empty, &black, &black, 0, 0);
        XFreePixmap(x.dpy, empty);
    }
    x.wmDelete = XInternAtom(x.dpy, "WM_DELETE_WINDOW", False);
    // RandR changes of the screen size arrive as ConfigureNotify on the root.
    XSelectInput(x.dpy, x.root, StructureNotifyMask);
    x.win = makeWindow(x, screenW_, screenH_, options_.title);
    x.gc = XCreateGC(x.dpy, x.win, 0, nullptr);
    XSync(x.dpy, False);
    log_.information("display %s: fullscreen window %dx%d%s", name_, screenW_.load(), screenH_.load(),
                     std::string(x.useShm ? ", MIT-SHM" : ""));

    const Clock& clock = options_.clock ? *options_.clock : systemClock();
    std::int64_t nextPollMs = clock.steadyMs();
    while (!stop_) {
        const int waitMs = static_cast<int>(std::max<std::int64_t>(0, nextPollMs - clock.steadyMs()));
        if (XPending(x.dpy) == 0) {
            pollfd p{ConnectionNumber(x.dpy), POLLIN, 0};
            ::poll(&p, 1, waitMs);
        }
        bool redraw = false, clear = false;
        handleXEvents(redraw, clear);
        if (stop_) break;
        if (clock.steadyMs() >= nextPollMs) {
            nextPollMs = clock.steadyMs() + options_.pollIntervalMs;
            presentNext(source, ownBuffer, redraw, clear);
        }
        if (redraw) draw(clear);
    }
    freeImage(x);
    if (x.gc) XFreeGC(x.dpy, x.gc);
    if (x.win) XDestroyWindow(x.dpy, x.win);
    if (x.blankCursor) XFreeCursor(x.dpy, x.blankCursor);
    XCloseDisplay(x.dpy);
    x.dpy = nullptr;
}

// Draws the image (the frame on screen), centred on black (the background fills the rest).
void X11Display::draw(bool clear) {
    X& x = *x_;
    if (!x.image || !x.win) return;
    const int sw = screenW_, sh = screenH_;
    int dx = (sw - x.frameW) / 2, dy = (sh - x.frameH) / 2;
    int sx = 0, sy = 0, w = x.frameW, h = x.frameH;
    if (dx < 0) {
        sx = -dx;
        w = sw;
        dx = 0;
    }
    if (dy < 0) {
        sy = -dy;
        h = sh;
        dy = 0;
    }
    if (clear) XClearWindow(x.dpy, x.win);
    if (x.useShm)
        XShmPutImage(x.dpy, x.win, x.gc, x.image, sx, sy, dx, dy, static_cast<unsigned>(w), static_cast<unsigned>(h),
                     False);
    else
        XPutImage(x.dpy, x.win, x.gc, x.image, sx, sy, dx, dy, static_cast<unsigned>(w), static_cast<unsigned>(h));
    // Wait until the server has the pixels: the shared buffer may be written
    // again next turn, and a capture right after must see this frame.
    XSync(x.dpy, False);
}

// Answers what the X server sent: exposures, an unmapped or destroyed window, a
// new screen size, a request to close.
void X11Display::handleXEvents(bool& redraw, bool& clear) {
    X& x = *x_;
    while (!stop_ && XPending(x.dpy) > 0) {
        XEvent e;
        XNextEvent(x.dpy, &e);
        switch (e.type) {
            case Expose:
                if (e.xexpose.window == x.win && e.xexpose.count == 0) {
                    redraw = true;
                    std::lock_guard lock(statsMutex_);
                    ++stats_.exposures;
                }
                break;
            case UnmapNotify:
                if (e.xunmap.window == x.win) {
                    log_.warning("display %s: the window was unmapped; mapping it again", name_);
                    XMapRaised(x.dpy, x.win);
                    std::lock_guard lock(statsMutex_);
                    ++stats_.remapped;
                }
                break;
            case DestroyNotify:
                if (e.xdestroywindow.window == x.win) {
                    log_.warning("display %s: the window was destroyed; making a new one", name_);
                    x.win = makeWindow(x, screenW_, screenH_, options_.title);
                    XFreeGC(x.dpy, x.gc);
                    x.gc = XCreateGC(x.dpy, x.win, 0, nullptr);
                    redraw = clear = true;
                    std::lock_guard lock(statsMutex_);
                    ++stats_.recreated;
                }
                break;
            case ConfigureNotify:
                if (e.xconfigure.window == x.root &&
                    (e.xconfigure.width != screenW_.load() || e.xconfigure.height != screenH_.load())) {
                    screenW_ = e.xconfigure.width;
                    screenH_ = e.xconfigure.height;
                    log_.information("display %s: the screen is now %dx%d", name_, screenW_.load(), screenH_.load());
                    XMoveResizeWindow(x.dpy, x.win, 0, 0, static_cast<unsigned>(screenW_.load()),
                                      static_cast<unsigned>(screenH_.load()));
                    redraw = clear = true;
                }
                break;
            case ClientMessage:
                if (static_cast<Atom>(e.xclient.data.l[0]) == x.wmDelete)
                    log_.warning(
                        "display %s: asked to close the window; a screen stays on (stop the "
                        "service "
                        "instead)",
                        name_);
                break;
            default:
                break;
        }
    }
}

// Asks the source for a frame and copies it into the image when its pixels changed.
void X11Display::presentNext(const std::function<Frame()>& source, std::vector<std::uint8_t>& ownBuffer, bool& redraw,
                             bool& clear) {
    X& x = *x_;
    Frame f = source();
    {
        std::lock_guard lock(statsMutex_);
        ++stats_.polls;
    }
    // The image buffer holds the pixels on screen: compare with it, copy into it.
    const bool sameSize = x.image && f.width == x.frameW && f.height == x.frameH;
    if (!f.empty() && (!sameSize || std::memcmp(x.image->data, f.bgrx.data(), f.bgrx.size()) != 0)) {
        if (f.width != x.frameW || f.height != x.frameH || !x.image) {
            if (!makeImage(x, f.width, f.height, ownBuffer, log_)) {
                log_.error("display %s: cannot make a %dx%d image", name_, f.width, f.height);
                return;
            }
            clear = true;
            std::lock_guard lock(statsMutex_);
            stats_.sharedMemory = x.useShm;
        }
        std::memcpy(x.image->data, f.bgrx.data(), f.bgrx.size());
        redraw = true;
        std::lock_guard lock(statsMutex_);
        ++stats_.presented;
    }
}

}  // namespace microscape::player
