// Core value types of the engine: identifiers, hybrid-logical-clock stamps and field values.
// All are plain values: copyable, comparable, safe to share between threads once built.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "mentorsync/export.h"

namespace mentorsync {

// A 128-bit identifier: record ids (random UUIDv4) and replica node ids.
struct MENTORSYNC_API Uuid {
    std::array<std::uint8_t, 16> bytes{};

    // A fresh random version-4 UUID (libsodium's CSPRNG).
    static Uuid random();
    // Parses the canonical 36-character form ("0f8fad5b-d9cb-469f-a165-70867728950e"); case is
    // ignored. Returns nullopt for anything else.
    static std::optional<Uuid> parse(std::string_view text);
    // From exactly 16 bytes; nullopt for any other length.
    static std::optional<Uuid> from_bytes(std::string_view raw);

    bool is_nil() const noexcept;
    std::string to_string() const;  // canonical lower-case form
    std::string_view raw() const noexcept {
        return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
    }
    auto operator<=>(const Uuid&) const = default;
};

// A hybrid-logical-clock stamp. `hlc` packs 48 bits of milliseconds since the Unix epoch above a
// 16-bit counter; `node` (the writing replica's id) breaks ties. Stamps are totally ordered by
// (hlc, node). The zero stamp (hlc 0, nil node) means "none", e.g. the prev of a first write.
struct MENTORSYNC_API Stamp {
    std::uint64_t hlc = 0;
    Uuid node{};

    static constexpr unsigned kCounterBits = 16;
    std::uint64_t millis() const noexcept { return hlc >> kCounterBits; }
    std::uint32_t counter() const noexcept { return static_cast<std::uint32_t>(hlc & 0xFFFF); }
    bool is_zero() const noexcept { return hlc == 0 && node.is_nil(); }
    std::string to_string() const;  // "<hlc hex>@<node uuid>", for logs and messages
    auto operator<=>(const Stamp&) const = default;
};

// A field value. Values cross the C ABI as JSON, so the kinds mirror JSON minus objects:
// null, boolean, integer, floating point, UTF-8 string, and lists of values.
class MENTORSYNC_API Value {
  public:
    using List = std::vector<Value>;
    enum class Kind { null, boolean, integer, real, string, list };

    Value() = default;
    Value(std::nullptr_t) {}
    Value(bool b) : v_(b) {}
    Value(int i) : v_(static_cast<std::int64_t>(i)) {}
    Value(std::int64_t i) : v_(i) {}
    Value(double d) : v_(d) {}
    Value(const char* s) : v_(std::string(s)) {}
    Value(std::string s) : v_(std::move(s)) {}
    Value(std::string_view s) : v_(std::string(s)) {}
    Value(List l) : v_(std::move(l)) {}

    Kind kind() const noexcept { return static_cast<Kind>(v_.index()); }
    bool is_null() const noexcept { return kind() == Kind::null; }
    bool is_bool() const noexcept { return kind() == Kind::boolean; }
    bool is_int() const noexcept { return kind() == Kind::integer; }
    bool is_real() const noexcept { return kind() == Kind::real; }
    bool is_string() const noexcept { return kind() == Kind::string; }
    bool is_list() const noexcept { return kind() == Kind::list; }

    // Preconditions: the matching is_*() holds.
    bool as_bool() const { return std::get<bool>(v_); }
    std::int64_t as_int() const { return std::get<std::int64_t>(v_); }
    double as_real() const { return std::get<double>(v_); }
    const std::string& as_string() const { return std::get<std::string>(v_); }
    const List& as_list() const { return std::get<List>(v_); }

    // Compact JSON-like text for messages and demos (strings quoted, lists in brackets).
    std::string to_display() const;

    bool operator==(const Value&) const = default;

  private:
    std::variant<std::monostate, bool, std::int64_t, double, std::string, List> v_;
};

// A record's fields by name. A null Value in an update clears the field.
using Fields = std::map<std::string, Value, std::less<>>;

// The reserved field that carries deletion; it merges like any other field.
inline constexpr std::string_view kDeletedField = "_deleted";

}  // namespace mentorsync
