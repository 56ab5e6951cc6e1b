// SmartStart on zwave-js's MockController, which does not model it (zwave-js 15.29: its handleAddNode
// treats every AddNodeToNetwork but Stop as classic inclusion of `nodePendingInclusion`, and nothing
// ever sends a SmartStart inclusion request). s2_launcher.mjs registers `smartStart` as a launcher
// extension (launcher.mjs: globalThis.hubAgentMockExtensions).
//
// What is modelled, as a Z-Wave API module (INS12350) behaves:
// - AddNodeToNetwork mode 0x09 (SmartStart listen, callback id 0) only sets the controller listening:
//   ACKed, no callback, nothing included. Any other AddNode or RemoveNode mode (classic inclusion,
//   exclusion, Stop) ends listening, as does a replugged or reset stick ("vanish" and "reset" clear the
//   controller's state, where the flag lives).
// - "announce" makes a not-yet-included node send its SmartStart inclusion request: an
//   ApplicationUpdateRequestSmartStartHomeIDReceived (update type 0x85: source node 0, RX status 0, the
//   NWI home id its DSK gives, then its NIF: CC count, basic/generic/specific class, CCs), built with
//   zwave-js's own serial-API class and home-id function (nwiHomeIdFromDSK). The module reports it
//   only while listening, so a request to a stick that is not listening is not delivered.
// - AddNodeToNetwork mode 0x08 (SmartStart-DSK) with the announced node's NWI and auth home ids
//   includes that node: the frame then goes on to zwave-js's own handleAddNode (Ready, NodeFound,
//   AddingSlave with the NIF, ProtocolDone) with the node as `nodePendingInclusion`, and S2
//   bootstrapping runs against the MockNode's real S2 behaviour. Other home ids include nothing
//   (Ready only, as a stick waiting for a node that never comes) and are recorded as an error.
// - A node announced with `leaves: true` behaves as a SmartStart node whose S2 bootstrapping fails
//   (SDS13783): once the host sends it KEX Fail (0x9F 0x07) it leaves the network, so the stick lists
//   it as failed (IsFailedNode 0x62 answers 1) and RemoveFailedNode (0x61) removes it (response 0,
//   callback NODE_REMOVED). zwave-js 15.29's mock has no RemoveFailedNode at all; for any other node
//   it answers NODE_OK (the node is there), as a stick whose ping the node answers.
// The node's DSK is its public key's first 16 bytes; s2_launcher.mjs derives the key pair from the
// node id, so a test knows the DSK without asking.
//
// Control commands added:
//   announce {node: options, leaves?, stays_away?}  the node with these MockNode options (an `id`,
//                             S2 in its CCs, capabilities.securityClasses) asks to be included
//                             (stays_away: it is not heard again, so AddNode SmartStart-DSK finds
//                             nothing; leaves: see above); answers {delivered,
//                             dsk, nwi_home_id, auth_home_id} (home ids as 8 hex digits, by zwave-js)
//   smart_start               {listening, modes}: modes = every AddNodeToNetwork the host sent since
//                             the last reset, oldest first, as [mode byte, callback id, hex of the rest]

import { createHash } from "node:crypto";
import { authHomeIdFromDSK, dskToString, keyPairFromRawECDHPrivateKey, nwiHomeIdFromDSK } from "@zwave-js/core";
import { ApplicationUpdateRequestSmartStartHomeIDReceived } from "@zwave-js/serial/serialapi";

const SOF = 0x01;
const REQUEST = 0x00;
const ADD_NODE = 0x4a;
const REMOVE_NODE = 0x4b;
const MODE_SMART_START_DSK = 0x08;
const MODE_SMART_START_LISTEN = 0x09;
const SEND_DATA = 0x13;
const REMOVE_FAILED = 0x61;
const IS_FAILED = 0x62;
const RESPONSE = 0x01;
const LISTENING = "hubAgentSmartStartListening"; // in controller.state: cleared on vanish and reset

function rawFrame(type, func, payload) {
	const body = [payload.length + 3, type, func, ...payload];
	return Uint8Array.from([SOF, ...body, body.reduce((acc, b) => acc ^ b, 0xff)]);
}

const hex = (bytes) => Buffer.from(bytes).toString("hex");
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

export async function mockNodeDSK(nodeId) {
	// s2_launcher.mjs gives each MockNode this key pair; the DSK is the public key's bytes 0-15.
	const seed = createHash("sha256").update(`hub-agent mock node ${nodeId}`).digest();
	const pair = await keyPairFromRawECDHPrivateKey(Uint8Array.from(seed));
	return pair.publicKey.subarray(0, 16);
}

export function smartStart({ controller, handlers, log }) {
	const modes = [];
	let announcer; // {inclusion (nodePendingInclusion options), nwi, auth} of the last announcement

	const leaving = new Set(); // announced with `leaves`: gone once the host sends them KEX Fail
	const gone = new Set();
	const answer = (controller, frames) => {
		controller.ackHostMessage();
		// Not awaited: the host's ACKs arrive through the loop that calls onHostData (see launcher.mjs).
		void (async () => {
			for (const frame of frames) await controller.sendToHost(frame);
		})().catch((e) => log("SmartStart mock:", e.message));
		return true;
	};
	controller.defineBehavior({
		onHostData(controller, data) {
			if (data.length < 6 || data[0] !== SOF || data[2] !== REQUEST) return false;
			const node = data[4];
			if (data[3] === SEND_DATA && leaving.has(node) && data.length > 7 && data[6] === 0x9f && data[7] === 0x07) {
				gone.add(node); // KEX Fail: a SmartStart node resets itself and leaves
				return false;
			}
			if (data[3] === IS_FAILED && gone.has(node)) return answer(controller, [rawFrame(RESPONSE, IS_FAILED, [0x01])]);
			if (data[3] === REMOVE_FAILED) {
				const removed = gone.delete(node);
				if (removed) controller.removeNode(controller.nodes.get(node));
				// response 0: removal started; callback: NODE_REMOVED (1), or NODE_OK (0) for a node that answers
				const callback = rawFrame(REQUEST, REMOVE_FAILED, [data[5], removed ? 0x01 : 0x00]);
				return answer(controller, [rawFrame(RESPONSE, REMOVE_FAILED, [0x00]), callback]);
			}
			if (data[3] === REMOVE_NODE) {
				controller.state.set(LISTENING, false);
				return false;
			}
			if (data[3] !== ADD_NODE) return false;
			const [mode, callbackId] = [data[4], data[5]];
			const rest = data.subarray(6, data.length - 1);
			modes.push([mode, callbackId, hex(rest)]);
			const type = mode & 0x0f;
			if (type === MODE_SMART_START_LISTEN) {
				controller.state.set(LISTENING, true);
				controller.ackHostMessage();
				return true; // a stick only listens: no callback, nothing included
			}
			controller.state.set(LISTENING, false);
			if (type === MODE_SMART_START_DSK) {
				const found = announcer && rest.length >= 8 && same(rest.subarray(0, 4), announcer.nwi) && same(rest.subarray(4, 8), announcer.auth);
				controller.nodePendingInclusion = found ? announcer.inclusion : undefined;
				if (found) announcer = undefined;
				else handlers.recordSmartStartError(`AddNode SmartStart-DSK for home ids ${hex(rest)}: no such node announced`);
			}
			return false; // zwave-js's handleAddNode answers (and includes the pending node, if any)
		},
	});

	const mockErrors = [];
	handlers.recordSmartStartError = (message) => {
		log(message);
		mockErrors.push(message);
	};
	const errors = handlers.errors;
	handlers.errors = async (request) => {
		const answer = await errors(request);
		return { errors: [...answer.errors, ...mockErrors.splice(0)] };
	};
	const reset = handlers.reset;
	handlers.reset = async (request) => {
		modes.splice(0);
		mockErrors.splice(0);
		announcer = undefined;
		leaving.clear();
		gone.clear();
		return reset(request);
	};

	handlers.announce = async ({ node: options, leaves = false, stays_away: staysAway = false }) => {
		const dsk = await mockNodeDSK(options.id);
		const nwi = nwiHomeIdFromDSK(dsk);
		const auth = authHomeIdFromDSK(dsk);
		// The node as the classic "include" command would set it up, kept aside until AddNode DSK.
		const before = controller.nodePendingInclusion;
		await handlers.include({ node: options });
		const inclusion = controller.nodePendingInclusion;
		controller.nodePendingInclusion = before;
		const answer = { dsk: dskToString(dsk), nwi_home_id: hex(nwi), auth_home_id: hex(auth) };
		if (!controller.state.get(LISTENING)) return { delivered: false, ...answer };
		announcer = { inclusion: staysAway ? undefined : inclusion, nwi, auth };
		if (leaves) leaving.add(options.id);
		const caps = options.capabilities ?? {};
		const ccs = (caps.commandClasses ?? []).filter((cc) => cc.isSupported !== false).map((cc) => cc.ccId ?? cc);
		const [basic, generic, specific] = [0x04, caps.genericDeviceClass ?? 0x40, caps.specificDeviceClass ?? 0x03];
		const request = new ApplicationUpdateRequestSmartStartHomeIDReceived({
			remoteNodeId: 0,
			nwiHomeId: nwi,
			basicDeviceClass: basic,
			genericDeviceClass: generic,
			specificDeviceClass: specific,
			supportedCCs: ccs,
		});
		// zwave-js 15.29 parses this update but has no serializer for it: the payload after the update
		// type is written here, in the layout its parser reads.
		request.payload = Uint8Array.from([0, 0, ...nwi, ccs.length, basic, generic, specific, ...ccs]);
		await controller.sendMessageToHost(request);
		return { delivered: true, ...answer };
	};

	handlers.smart_start = async () => ({ listening: controller.state.get(LISTENING) ?? false, modes });
}
