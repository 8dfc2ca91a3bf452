// The routes every shard serves. Later modules (chat, models, admin) add theirs here.
#pragma once

#include "ringgate/http/router.h"

namespace ringgate {

void AddBuiltinRoutes(Router& router);

}  // namespace ringgate
