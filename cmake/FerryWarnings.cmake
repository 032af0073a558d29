# ferry_set_warnings(target): the project's warning policy, applied to our own targets only.
function(ferry_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align
                                           -Wimplicit-fallthrough -Wformat=2)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    # GCC 12 reports -Wrestrict inside libstdc++'s std::string at -O2/-O3 for ordinary
    # assignments (GCC bug 105329, fixed in 13): a false positive we cannot fix in our code.
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  if(FERRY_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
