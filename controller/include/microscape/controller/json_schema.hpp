// Checks JSON values against the subset of OpenAPI 3.0 Schema Objects that the
// controller's API document is written in. The controller checks every request
// body with it before a handler runs, and the tests check every request and
// response they exchange with the same document (docs/controller-api.md).
// A SchemaSet is immutable once built; check() may run on many threads at once.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>

#include <optional>
#include <string>

namespace microscape::controller {

// Keywords understood: $ref (only "#/components/schemas/NAME"), type (object,
// array, string, integer, number, boolean), nullable, properties, required,
// additionalProperties (true, false or a schema), items, minItems, maxItems,
// uniqueItems (not checked), minLength, maxLength (characters, i.e. code points),
// x-maxBytes (UTF-8 bytes, the limit the database columns are held to), minimum,
// maximum, enum (of strings or integers), format (date-time and date are checked;
// int64, binary, uri, uuid and others are annotations), oneOf (exactly one must
// match). Annotations ignored: description, title, example, readOnly, writeOnly,
// default, deprecated. Any other keyword makes lint() fail, so a schema cannot
// carry a rule that is silently not enforced.
class SchemaSet {
  public:
    // components: the document's components/schemas object (name -> schema).
    explicit SchemaSet(Poco::JSON::Object::Ptr components);

    // The first problem found with `value`, as "WHERE: WHAT" (WHERE is `where`
    // followed by .field and [index] steps), or nullopt when it conforms.
    // Throws std::logic_error for a schema outside the subset or a dangling $ref.
    std::optional<std::string> check(const Poco::Dynamic::Var& value, const Poco::JSON::Object::Ptr& schema,
                                     const std::string& where) const;

    // Throws std::logic_error naming the first keyword outside the subset, or a
    // $ref to a missing component, in `schema` and everything it reaches.
    void lint(const Poco::JSON::Object::Ptr& schema, const std::string& where) const;
    // Lints every component.
    void lintAll() const;

  private:
    Poco::JSON::Object::Ptr resolve(const Poco::JSON::Object::Ptr& schema) const;
    Poco::JSON::Object::Ptr components_;
};

}  // namespace microscape::controller
