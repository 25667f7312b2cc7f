import { EventStore } from "@chronicle/eventstore"
import * as Suite from "./suite.js"

Suite.run({ name: "memory", layer: EventStore.layerMemory })
