#include "q8rt.h"
