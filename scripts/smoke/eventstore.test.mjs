// Runs with Vitest in a scratch project where @chronicle/eventstore was installed from its tarball:
// the exported conformance suite, against the in-memory layer.
import { EventStore } from "@chronicle/eventstore"
import { Conformance } from "@chronicle/eventstore/testing"

Conformance.run({ name: "memory (from the tarball)", layer: EventStore.layerMemory, runs: 3 })
