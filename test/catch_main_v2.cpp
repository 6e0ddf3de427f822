// Catch2 v2 needs the main in one translation unit; v3 links Catch2::Catch2WithMain instead.
#define CATCH_CONFIG_MAIN
#include "catch_compat.h"
