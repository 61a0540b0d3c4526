// The only translation unit that includes CAF's test runner (it defines main).
#include <caf/test/unit_test_impl.hpp>
