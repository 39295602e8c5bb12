// The tests' side of the OpenAPI document: every request the test client makes,
// and the controller's answer, are checked against the document the controller
// serves. A request the document calls invalid must be refused (4xx); every
// answer must have a declared status, a declared media type and, for JSON, match
// its schema. Immutable once built; check() may run on any thread.
#pragma once

#include <Poco/JSON/Object.h>

#include <string>
#include <vector>

#include "microscape/controller/json_schema.hpp"

namespace microscape::testing {

struct Exchange {
    std::string method;
    std::string target;  // path and query, as sent
    std::string requestType;
    std::string requestBody;
    int status = 0;
    std::string responseType;
    std::string responseBody;
};

class ApiContract {
  public:
    explicit ApiContract(Poco::JSON::Object::Ptr document);
    // What is wrong with the exchange; empty when it keeps to the document.
    std::vector<std::string> check(const Exchange& e) const;

  private:
    Poco::JSON::Object::Ptr doc_;
    microscape::controller::SchemaSet schemas_;
};

}  // namespace microscape::testing
