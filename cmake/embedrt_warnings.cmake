# Warnings for embedrt's own targets only (dependencies are included as SYSTEM headers).
function(embedrt_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                         -Wnon-virtual-dtor -Wcast-align -Wunused -Woverloaded-virtual
                         -Wdouble-promotion -Wformat=2)
  if(EMBEDRT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
