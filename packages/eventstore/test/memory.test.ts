import { EventStore } from "@chronicle/eventstore"
import { Conformance } from "@chronicle/eventstore/testing"

Conformance.run({ name: "memory", layer: EventStore.layerMemory })
