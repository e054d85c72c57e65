// Catch2 v2 generates main() here, once, so the test files compile faster.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
