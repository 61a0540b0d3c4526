# ctest cli.links_no_test_tooling: the shipped `embedrt` CLI (-DCLI=path) contains no
# symbol of the test tooling (the mock upstream: embedrt::mock, cpp-httplib; the
# scenario runner: embedrt::scenario). So that it cannot pass vacuously (a stripped
# binary, a pattern that matches nothing), the CLI must show its own embedrt::cli
# symbols and embedrt-scenario (-DTOOL=path) must show the tooling symbols.
set(tooling "embedrt::mock::|embedrt::scenario::|httplib::")

function(symbols binary pattern out_count out_sample)
  execute_process(COMMAND nm -C ${binary}
                  COMMAND grep -E "${pattern}"
                  OUTPUT_VARIABLE lines RESULT_VARIABLE rc ERROR_VARIABLE err)
  string(REGEX MATCHALL "[^\n]+" list "${lines}")
  list(LENGTH list n)
  set(sample "")
  if(n GREATER 0)
    list(SUBLIST list 0 5 sample)
    string(REPLACE ";" "\n  " sample "${sample}")
  endif()
  set(${out_count} ${n} PARENT_SCOPE)
  set(${out_sample} "${sample}" PARENT_SCOPE)
endfunction()

symbols(${CLI} "${tooling}" cli_tooling cli_sample)
symbols(${CLI} "embedrt::cli::" cli_own cli_own_sample)
symbols(${TOOL} "embedrt::mock::" tool_mock tool_mock_sample)
symbols(${TOOL} "embedrt::scenario::" tool_scenario tool_scenario_sample)
message(STATUS "embedrt: ${cli_tooling} tooling symbols, ${cli_own} embedrt::cli symbols; "
               "embedrt-scenario: ${tool_mock} embedrt::mock, "
               "${tool_scenario} embedrt::scenario symbols")
if(NOT cli_tooling EQUAL 0)
  message(FATAL_ERROR "${CLI} links test tooling (${cli_tooling} symbols), e.g.\n  ${cli_sample}")
endif()
if(cli_own EQUAL 0)
  message(FATAL_ERROR "no embedrt::cli symbol in ${CLI}: stripped? the check would be vacuous")
endif()
if(tool_mock EQUAL 0 OR tool_scenario EQUAL 0)
  message(FATAL_ERROR "the tooling patterns match nothing in ${TOOL}: the check would be vacuous")
endif()
