#!/usr/bin/env node
// launcher.mjs with Z-Wave security: the MockController holds hub-agent's network keys, so mock
// nodes can be S2/S0 nodes (already included securely, or bootstrapped through `include`).
//
// Usage: node s2_launcher.mjs --keys FILE.json [launcher.mjs arguments]
//   FILE.json is hub-agent's keys file: {"S2_AccessControl","S2_Authenticated","S2_Unauthenticated","S0_Legacy"}.
//
// Node options may give `capabilities.securityClasses` as an array of zwave-js SecurityClass numbers
// (0 S2_Unauthenticated, 1 S2_Authenticated, 2 S2_AccessControl, 7 S0_Legacy); JSON has no Set.
// Each mock node's ECDH key pair is derived from its node id (private key = SHA-256("hub-agent mock
// node <id>")), so a test can compute the node's DSK and PIN; zwave-js 15.29's MockNode.dsk/s2Pin
// read public-key bytes 1-16 instead of 0-15, so they are not used.
//
// SmartStart (listen mode, a node's inclusion request, AddNode SmartStart-DSK) is added by
// smartstart_mock.mjs: commands "announce" and "smart_start"; its header says what is modelled.

import fs from "node:fs";
import { createHash } from "node:crypto";
import { keyPairFromRawECDHPrivateKey } from "@zwave-js/core";
import { MockController, MockNode } from "@zwave-js/testing";
import { smartStart } from "./smartstart_mock.mjs";

const at = process.argv.indexOf("--keys");
if (at < 0 || !process.argv[at + 1]) {
	console.error("[zwave-s2-mock] --keys FILE is required");
	process.exit(2);
}
const doc = JSON.parse(fs.readFileSync(process.argv[at + 1], "utf8"));
process.argv.splice(at, 2); // launcher.mjs must not see our option
const securityKeys = {};
for (const name of ["S2_AccessControl", "S2_Authenticated", "S2_Unauthenticated", "S0_Legacy"]) {
	securityKeys[name] = Uint8Array.from(Buffer.from(doc[name], "hex"));
}

const createController = MockController.create;
MockController.create = function (options) {
	return createController.call(this, { ...options, securityKeys });
};

const createNode = MockNode.create;
MockNode.create = async function (options) {
	const classes = options.capabilities?.securityClasses;
	if (Array.isArray(classes)) {
		options = { ...options, capabilities: { ...options.capabilities, securityClasses: new Set(classes) } };
	}
	const node = await createNode.call(this, options);
	const seed = createHash("sha256").update(`hub-agent mock node ${node.id}`).digest();
	node.ecdhKeyPair = await keyPairFromRawECDHPrivateKey(Uint8Array.from(seed));
	return node;
};

globalThis.hubAgentMockExtensions = [smartStart];
await import("./launcher.mjs");
