// CAP 1.2 alerts become takeovers (docs/controller-api.md "Alerts"): one function
// takes a message, from the API or the feed poller, and starts, changes or ends
// the takeover of the alert it belongs to, through the same signed schedule path
// as a takeover started in the console.
// Thread-safety: ingestAlert may be called from any thread (the database
// serialises writes; the compiler serialises compilation).
#pragma once

#include <Poco/JSON/Object.h>

#include <string>

#include "api.hpp"

namespace microscape::controller {

struct AlertOutcome {
    bool created = false;  // false: the same message (sender, identifier, sent) was taken before
    Poco::JSON::Object::Ptr json;
};

// Takes one CAP message received from `account` by `source` ("api" or "feed").
// Refusals are ApiErrors (4xx JSON errors, docs/controller-api.md) and change
// nothing; a message taken before is answered again, unchanged.
AlertOutcome ingestAlert(Services& svc, const std::string& xml, const User& account, const std::string& source);

Poco::JSON::Object::Ptr alertJson(const AlertRecord& a, bool withXml);

}  // namespace microscape::controller
