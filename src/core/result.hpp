// Result<T, E>: the shape of std::expected, which neither g++ 12 (C++20) nor clang 14 with
// libstdc++ 12 provides. Swap for std::expected once the toolchains have it.
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace ferry {

template <class E>
class Unexpected {
 public:
  constexpr explicit Unexpected(E e) : error_(std::move(e)) {}
  constexpr const E& error() const& noexcept { return error_; }
  constexpr E&& error() && noexcept { return std::move(error_); }

 private:
  E error_;
};
template <class E>
Unexpected(E) -> Unexpected<E>;

template <class T, class E>
class [[nodiscard]] Result {
 public:
  using value_type = T;
  using error_type = E;

  template <class U = T>
  requires std::is_constructible_v<T, U&&>
  constexpr Result(U&& v) : v_(std::in_place_index<0>, std::forward<U>(v)) {}  // NOLINT
  template <class G>
  constexpr Result(Unexpected<G> u) : v_(std::in_place_index<1>, std::move(u).error()) {}  // NOLINT

  constexpr bool has_value() const noexcept { return v_.index() == 0; }
  constexpr explicit operator bool() const noexcept { return has_value(); }

  constexpr T& value() & { return assert(has_value()), std::get<0>(v_); }
  constexpr const T& value() const& { return assert(has_value()), std::get<0>(v_); }
  constexpr T&& value() && { return assert(has_value()), std::get<0>(std::move(v_)); }
  constexpr T& operator*() & { return value(); }
  constexpr const T& operator*() const& { return value(); }
  constexpr T&& operator*() && { return std::move(*this).value(); }
  constexpr T* operator->() { return &value(); }
  constexpr const T* operator->() const { return &value(); }

  constexpr const E& error() const& { return assert(!has_value()), std::get<1>(v_); }
  constexpr E&& error() && { return assert(!has_value()), std::get<1>(std::move(v_)); }

  template <class U>
  constexpr T value_or(U&& fallback) const& {
    return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, E> v_;
};

template <class E>
class [[nodiscard]] Result<void, E> {
 public:
  using value_type = void;
  using error_type = E;

  constexpr Result() = default;
  template <class G>
  constexpr Result(Unexpected<G> u) : error_(std::move(u).error()), ok_(false) {}  // NOLINT

  constexpr bool has_value() const noexcept { return ok_; }
  constexpr explicit operator bool() const noexcept { return ok_; }
  constexpr void value() const { assert(ok_); }
  constexpr const E& error() const& { return assert(!ok_), error_; }
  constexpr E&& error() && { return assert(!ok_), std::move(error_); }

 private:
  E error_{};
  bool ok_ = true;
};

}  // namespace ferry
