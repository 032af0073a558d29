// An overload set out of lambdas, for std::visit: every alternative of the variant must have
// its own lambda (write no catch-all), so that an alternative added to the variant and
// forgotten at a dispatch site is a build error there.
#pragma once

namespace ferry {

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

}  // namespace ferry
