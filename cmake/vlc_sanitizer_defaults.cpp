// Compiled into the sanitized build (MICROSCAPE_SANITIZE) of each program that
// runs libvlc in its own process. libvlc's plugins keep small allocations
// until exit and are unloaded before LeakSanitizer runs; their stacks can be
// told apart only with full unwinding, which is slow on every allocation
// (PBKDF2 in the controller would take seconds), so it is set here, per
// program, not for the whole test run. Compiled in rather than passed in the
// environment because the media probe runs with a scrubbed environment and
// cannot read files once confined. Our own code is never suppressed.
#if defined(__SANITIZE_ADDRESS__)
extern "C" const char* __asan_default_options() {
    return "fast_unwind_on_malloc=0";
}
extern "C" const char* __lsan_default_suppressions() {
    return "leak:libvlccore.so\nleak:libvlc.so\n";
}
#endif
