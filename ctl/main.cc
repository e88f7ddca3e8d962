// sessctl: the operator's CLI. Everything but this lives in sessctl_lib (see ctl/cli.h).
#include <iostream>

#include "ctl/cli.h"

int main(int argc, char** argv) { return sessctl::Main(argc, argv, std::cout, std::cerr); }
