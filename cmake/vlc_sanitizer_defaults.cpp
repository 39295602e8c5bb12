// Compiled into the sanitized build (MICROSCAPE_SANITIZE) of each program that
// runs libvlc in its own process.
//
// libvlc unloads its plugins (dlclose) when an instance is released, and some
// keep small allocations in their globals until then: once unmapped, those
// look like leaks from "<unknown module>" that no suppression can name. Here
// dlclose does nothing, so the plugins stay mapped, their globals stay roots
// and LeakSanitizer sees nothing to report; stack unwinding stays fast (full
// unwinding on every allocation made a video's first frame take 1.7 s instead
// of 0.1 s). The suppressions for libvlc are compiled in as well, because the
// media probe runs with a scrubbed environment and cannot read files once
// confined. Our own code is never suppressed.
#if defined(__SANITIZE_ADDRESS__)
extern "C" int dlclose(void*) {
    return 0;
}
extern "C" const char* __lsan_default_suppressions() {
    return "leak:libvlccore.so\nleak:libvlc.so\n";
}
#endif
