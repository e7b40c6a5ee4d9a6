#include "sys/dynsym.h"

#include <dlfcn.h>

namespace rn {

void* dynsym_find(const char* name) { return dlsym(RTLD_DEFAULT, name); }

}  // namespace rn
