// Catch2 v2's main (v3 links Catch2::Catch2WithMain instead), with v3's exit status 4 when every
// test case that ran was skipped.
#define CATCH_CONFIG_RUNNER
#include "catch_skip_v2.h"

int main(int argc, char* argv[]) { return eegpt_test::skip_exit_code(Catch::Session().run(argc, argv)); }
