# Placeholder: replaced by the consumer project test.
message(STATUS "consumer test not written yet")
