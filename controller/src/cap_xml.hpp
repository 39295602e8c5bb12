// The one way CAP code reads XML from outside: size-bounded, UTF-8 only, no
// DOCTYPE (so no DTD, no entity declarations, nothing external), no network.
// Thread-safety: any thread; libxml2 is initialised once on first use.
#pragma once

#include <libxml/tree.h>

#include <memory>
#include <string_view>

#include "cap.hpp"

namespace microscape::controller::cap::xml {

struct DocFree {
    void operator()(xmlDoc* d) const {
        if (d) xmlFreeDoc(d);
    }
};
using Doc = std::unique_ptr<xmlDoc, DocFree>;

// Initialises libxml2 (once per process; later calls return at once).
void initOnce();

// Parses `bytes` as a document. Problems: too_large, not_utf8, doctype_refused,
// not_xml (with libxml2's message and line); `what` names the document in them.
Parsed<Doc> parseHardened(std::string_view bytes, std::size_t maxBytes, const char* what);

}  // namespace microscape::controller::cap::xml
