// The fake's routes: the Gemini API (v1, v1beta, v1alpha) and the /_fake/ control endpoints.
#pragma once

#include "fake_state.h"
#include "models.h"
#include "ringgate/http/router.h"
#include "ringgate/server/shard.h"

namespace fake_gemini {

// Adds every route to one shard's router. Runs on the shard's thread; the handlers keep their
// per-shard state (JSON parser, buffers, answers in progress) alive as long as the router.
void InstallRoutes(ringgate::Router& router, ringgate::Shard& shard, FakeState& state,
                   const ModelCatalog& catalog);

}  // namespace fake_gemini
