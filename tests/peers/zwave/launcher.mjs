#!/usr/bin/env node
// zwave-js's MockController and MockNodes behind a loopback TCP port, for hub-agent's Z-Wave tests.
//
// Usage: node launcher.mjs [--port N] [--host 127.0.0.1] [--nodes FILE.json]
//
// stdout: the first line is the TCP port we listen on; every later line is the JSON answer to one
//         control command (same "id"). Logs go to stderr.
// stdin:  control commands, one JSON object a line, e.g. {"id":1,"cmd":"nodes"}:
//   report {node, cc, endpoint?}   the node sends these CC bytes (hex) to the controller, unsolicited;
//                                  answers {t}: when the frame left (process.hrtime ns, for benchmarks)
//   state {node, key, value}       set mock node state (e.g. BinarySwitch_currentValue, Sensor_1_0,
//                                  Notification_6 = the Access Control event a Notification Get answers)
//   get_state {node, key}          read it
//   wakeup {node} / sleep {node}   a sleeping node wakes up (sends Wake Up Notification) / sleeps again
//   include {node: options}        the next AddNodeToNetwork includes a node with these MockNode options
//   exclude {node}                 the next RemoveNodeFromNetwork excludes this node
//   vanish {ms}                    drop the client and refuse connections for ms, then listen again
//   vanish_on_send {node, ms}      vanish when the host's next SendData to the node arrives (mid-transaction)
//   listening                      answers once the port accepts connections (again)
//   received {node}                hex of every CC the host sent the node with SendData or SendDataBridge,
//                                  oldest first,
//                                  and {t}: when each SendData arrived (process.hrtime ns)
//   handed {node}                  when each frame from the node was written to the host (hrtime ns)
//   link                           every Serial API frame on the link since the last reset, oldest first
//                                  (at most 100000): [t, "h"|"c" (from host / controller), type, function,
//                                  hex of up to 8 payload bytes]; frames only, not ACK/NAK/CAN (benchmarks)
//   reset {nodes}                  a fresh network: no client, these nodes ("household" or a list of options)
//   parse_cc {cc}                  zwave-js's own parse of these CC bytes: class name and fields
//   nodes                          ids of the nodes in the network
//   errors                         what the mock refused or choked on since the last call or reset
//   quit                           shut down (also on SIGTERM/SIGINT or stdin EOF)
//
// Differences from zwave-js's own mock-server, on purpose: it binds only to the given host (default
// 127.0.0.1) and advertises nothing over mDNS; it sets TCP_NODELAY; and it splits the host's byte
// stream into ACK/NAK/CAN bytes and whole frames before handing them to the mock, which parses each
// write as exactly one message (so an ACK glued to the next frame would otherwise be lost).
// It also adds what the household needs and zwave-js 15.29's mocks lack or get wrong, each marked
// where it is defined: Battery, Wake Up, Association, Notification Get and Central Scene answers,
// sleeping nodes, exclusion of a node, IsFailedNode, a Thermostat Setpoint Set range check the right
// way round, and an ADD/REMOVE_NODE_STOP to an idle controller that leaves it idle.

import net from "node:net";
import fs from "node:fs";
import readline from "node:readline";
import { CommandClass } from "@zwave-js/cc";
import { Faucet, ZWaveSerialFrameType } from "@zwave-js/serial";
import {
	AddNodeStatus,
	AddNodeToNetworkRequest,
	AddNodeToNetworkRequestStatusReport,
	AddNodeType,
	RemoveNodeFromNetworkRequest,
	RemoveNodeFromNetworkRequestStatusReport,
	RemoveNodeStatus,
	RemoveNodeType,
} from "@zwave-js/serial/serialapi";
import { createAndOpenMockedZWaveSerialPort } from "@zwave-js/serial/mock";
import { MockController, MockNode, createMockZWaveRequestFrame } from "@zwave-js/testing";
import {
	createDefaultMockControllerBehaviors,
	createDefaultMockNodeBehaviors,
} from "zwave-js/Testing";

const SOF = 0x01;
const ACK = 0x06;
const NAK = 0x15;
const CAN = 0x18;

function log(...args) {
	console.error("[zwave-mock]", ...args);
}

// A mistake inside a mock behaviour (e.g. a SendData while one is in flight, which zwave-js's mock
// rightly refuses) must not kill the peer: log it, the host sees a timeout as with a real stick.
// They are also kept for the "errors" command, so tests can assert the host broke no mock rule.
const mockErrors = [];
const recordError = (kind) => (e) => {
	log(`${kind}:`, e?.stack ?? e);
	mockErrors.push(String(e?.message ?? e));
};
process.on("unhandledRejection", recordError("unhandled rejection"));
process.on("uncaughtException", recordError("uncaught exception"));

// --- the default household: household.json (also read by the Python tests) -------------------------

export const DEFAULT_NODES = JSON.parse(fs.readFileSync(new URL("./household.json", import.meta.url), "utf8"));

// --- custom node behaviours: CCs zwave-js's mocks do not answer ------------------------------------

const raw = (controller, bytes) =>
	new CommandClass({
		nodeId: controller.ownNodeId,
		ccId: bytes[0],
		ccCommand: bytes[1],
		payload: Uint8Array.from(bytes.slice(2)),
	});
const u24 = (n) => [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
const supports = (node, cc, endpoint) =>
	(endpoint ? node.endpoints.get(endpoint)?.implementedCCs : node.implementedCCs)?.has(cc) ?? false;

function customBehaviors() {
	const is = (cc, ccId, ccCommand) => cc.ccId === ccId && cc.ccCommand === ccCommand;
	return [
		{
			// Battery Get -> Report (level from state "Battery_level", default 90 %)
			handleCC(controller, self, cc) {
				if (is(cc, 0x80, 0x02) && supports(self, 0x80, cc.endpointIndex)) {
					return { action: "sendCC", cc: raw(controller, [0x80, 0x03, self.state.get("Battery_level") ?? 90]) };
				}
			},
		},
		{
			// Wake Up: interval get/set, capabilities, No More Information puts the node back to sleep
			handleCC(controller, self, cc) {
				if (cc.ccId !== 0x84 || !supports(self, 0x84, 0)) return;
				const interval = () => self.state.get("WakeUp_interval") ?? 3600;
				const target = () => self.state.get("WakeUp_node") ?? 0;
				switch (cc.ccCommand) {
					case 0x04: // Interval Set
						self.state.set("WakeUp_interval", cc.wakeUpInterval);
						self.state.set("WakeUp_node", cc.controllerNodeId);
						return { action: "ok" };
					case 0x05:
						return { action: "sendCC", cc: raw(controller, [0x84, 0x06, ...u24(interval()), target()]) };
					case 0x09:
						return {
							action: "sendCC",
							cc: raw(controller, [0x84, 0x0a, ...u24(60), ...u24(86400), ...u24(3600), ...u24(60)]),
						};
					case 0x08: // No More Information
						setAwake(self, false);
						return { action: "stop" };
				}
			},
		},
		{
			// Association: groupings, get, set, remove (state "Association_<group>")
			handleCC(controller, self, cc) {
				if (cc.ccId !== 0x85 || !supports(self, 0x85, 0)) return;
				const key = (g) => `Association_${g}`;
				switch (cc.ccCommand) {
					case 0x05:
						return { action: "sendCC", cc: raw(controller, [0x85, 0x06, 1]) };
					case 0x02: {
						const nodes = self.state.get(key(cc.groupId)) ?? [];
						return { action: "sendCC", cc: raw(controller, [0x85, 0x03, cc.groupId, 5, 0, ...nodes]) };
					}
					case 0x01: {
						const nodes = new Set(self.state.get(key(cc.groupId)) ?? []);
						for (const n of cc.nodeIds ?? []) nodes.add(n);
						self.state.set(key(cc.groupId), [...nodes].slice(0, 5));
						return { action: "ok" };
					}
					case 0x04: {
						const drop = new Set(cc.nodeIds ?? []);
						const nodes = (self.state.get(key(cc.groupId)) ?? []).filter((n) => drop.size && !drop.has(n));
						self.state.set(key(cc.groupId), nodes);
						return { action: "ok" };
					}
				}
			},
		},
		{
			// Thermostat Setpoint Set: zwave-js 15.29's own mock behaviour inverts its range check and
			// fails every value above the minimum; this one checks the range the right way round.
			handleCC(controller, self, cc) {
				if (!is(cc, 0x43, 0x01)) return;
				const caps = self.getCCCapabilities(0x43, cc.endpointIndex)?.setpoints?.[cc.setpointType];
				if (!caps || cc.value < caps.minValue || cc.value > caps.maxValue) return { action: "fail" };
				self.state.set(`ThermostatSetpoint_setpoint_${cc.setpointType}`, cc.value);
				self.state.set(`ThermostatSetpoint_scale_${cc.setpointType}`, cc.scale);
				return { action: "ok" };
			},
		},
		{
			// Notification Get (zwave-js 15.29's mock answers only the Supported Gets) -> a Report of the
			// asked type's pending state: event from state "Notification_<type>", default 0x00 (idle);
			// a type the node does not support gets no answer.
			handleCC(controller, self, cc) {
				if (!is(cc, 0x71, 0x04) || !supports(self, 0x71, cc.endpointIndex)) return;
				const types = self.getCCCapabilities(0x71, cc.endpointIndex)?.notificationTypesAndEvents ?? {};
				const type = cc.notificationType;
				if (type === undefined || !(type in types)) return { action: "stop" };
				const event = self.state.get(`Notification_${type}`) ?? 0x00;
				return { action: "sendCC", cc: raw(controller, [0x71, 0x05, 0, 0, 0, 0xff, type, event, 0]) };
			},
		},
		{
			// Central Scene Supported Get -> scenes with pressed/released/held/2x, identical for all
			handleCC(controller, self, cc) {
				if (is(cc, 0x5b, 0x01) && supports(self, 0x5b, cc.endpointIndex)) {
					const scenes = self.getCCCapabilities(0x5b, cc.endpointIndex)?.scenes ?? 1;
					return { action: "sendCC", cc: raw(controller, [0x5b, 0x02, scenes, 0b011, 0x0f]) };
				}
			},
		},
	];
}

// A sleeping node neither ACKs nor answers until it wakes up (defined last, so it runs first).
function sleepBehavior() {
	return {
		handleCC(controller, self) {
			if (!self.capabilities.isListening && !self.state.get("awake")) return { action: "stop" };
		},
	};
}

function setAwake(node, awake) {
	node.state.set("awake", awake);
	node.autoAckControllerFrames = awake || node.capabilities.isListening;
}

// Sensor values come from mock state, so the control channel can change them.
function attachValueSources(node) {
	const info = (cc) => node.implementedCCs.get(cc);
	if (info(0x31)) info(0x31).getValue = (type, scale) => node.state.get(`Sensor_${type}_${scale ?? 0}`) ?? defaultSensor(type, scale);
	if (info(0x30)) info(0x30).getValue = (type) => node.state.get(`BinarySensor_${type}`) ?? false;
	if (info(0x32)) info(0x32).getValue = (scale) => node.state.get(`Meter_${scale}`) ?? (scale === 0 ? 1.5 : 12.5);
}

function defaultSensor(type, scale) {
	if (type === 1) return scale === 1 ? 70.7 : 21.5;
	if (type === 3) return 120;
	if (type === 5) return 45;
	return 0;
}

async function createNode(controller, options) {
	const { kind: _kind, behaviors: _b, ...nodeOptions } = options;
	const node = await MockNode.create({ ...nodeOptions, controller });
	node.defineBehavior(...createDefaultMockNodeBehaviors());
	node.defineBehavior(...customBehaviors());
	node.defineBehavior(sleepBehavior());
	attachValueSources(node);
	setAwake(node, false);
	return node;
}

// --- exclusion: zwave-js's mock only says "ready"; we also let a pending node leave -----------------

function exclusionBehavior(pending) {
	return {
		async onHostMessage(controller, msg) {
			if (!(msg instanceof RemoveNodeFromNetworkRequest) || pending.nodeId === undefined) return;
			if (msg.removeNodeType === RemoveNodeType.Stop) return; // the default behaviour answers
			const nodeId = pending.nodeId;
			pending.nodeId = undefined;
			const report = (status, extra = {}) =>
				new RemoveNodeFromNetworkRequestStatusReport({ callbackId: msg.callbackId, status, ...extra });
			await controller.sendMessageToHost(report(RemoveNodeStatus.Ready));
			await controller.sendMessageToHost(report(RemoveNodeStatus.NodeFound));
			await controller.sendMessageToHost(report(RemoveNodeStatus.RemovingSlave, { nodeId }));
			const node = controller.nodes.get(nodeId);
			if (node) controller.removeNode(node);
			await controller.sendMessageToHost(report(RemoveNodeStatus.Done, { nodeId }));
			return true;
		},
	};
}

// INS12350 has the host send ADD/REMOVE_NODE_STOP with callback id 0 after DONE, when the controller
// is already idle. zwave-js's mock treats any Add/RemoveNode request in the idle state as a start, so
// that stop would open inclusion again; a real stick stays idle. Keep it idle, as a stick does.
function idleStopBehavior() {
	return {
		async onHostMessage(controller, msg) {
			const addStop = msg instanceof AddNodeToNetworkRequest && msg.addNodeType === AddNodeType.Stop;
			const removeStop = msg instanceof RemoveNodeFromNetworkRequest && msg.removeNodeType === RemoveNodeType.Stop;
			if (!addStop && !removeStop) return;
			if ((controller.state.get("inclusionState") ?? 0) !== 0) return; // not idle: the default handles it
			if (msg.callbackId) {
				const report = addStop
					? new AddNodeToNetworkRequestStatusReport({ callbackId: msg.callbackId, status: AddNodeStatus.Failed })
					: new RemoveNodeFromNetworkRequestStatusReport({ callbackId: msg.callbackId, status: RemoveNodeStatus.Failed });
				await controller.sendMessageToHost(report);
			}
			return true;
		},
	};
}

function rawFrame(type, func, payload) {
	const body = [payload.length + 3, type, func, ...payload];
	const checksum = body.reduce((acc, b) => acc ^ b, 0xff);
	return Uint8Array.from([SOF, ...body, checksum]);
}

// --- the host byte stream, split into what the mock can parse ---------------------------------------

export class HostSplitter {
	buffer = new Uint8Array(0);

	/** Returns the pieces (single control bytes or whole frames) in `data`; garbage is dropped. */
	push(data) {
		const joined = new Uint8Array(this.buffer.length + data.length);
		joined.set(this.buffer);
		joined.set(data, this.buffer.length);
		const out = [];
		let i = 0;
		while (i < joined.length) {
			const b = joined[i];
			if (b === ACK || b === NAK || b === CAN) {
				out.push(joined.subarray(i, i + 1));
				i += 1;
			} else if (b === SOF) {
				if (i + 1 >= joined.length) break;
				const end = i + 2 + joined[i + 1];
				if (end > joined.length) break;
				out.push(joined.subarray(i, end));
				i = end;
			} else {
				log(`dropping garbage byte 0x${b.toString(16)}`);
				i += 1;
			}
		}
		this.buffer = joined.slice(i);
		return out.map((p) => Uint8Array.from(p));
	}
}

// --- main -------------------------------------------------------------------------------------------

function parseArgs(argv) {
	const args = { port: 0, host: "127.0.0.1", nodes: undefined };
	for (let i = 0; i < argv.length; i++) {
		const [flag, value] = [argv[i], argv[i + 1]];
		if (flag === "--port") args.port = Number(value);
		else if (flag === "--host") args.host = value;
		else if (flag === "--nodes") args.nodes = value;
		else throw new Error(`unknown argument ${flag}`);
		i++;
	}
	if (!["127.0.0.1", "::1", "localhost"].includes(args.host)) {
		throw new Error(`refusing to listen on ${args.host}: loopback only`);
	}
	return args;
}

async function main() {
	const args = parseArgs(process.argv.slice(2));
	const nodeOptions = args.nodes ? JSON.parse(fs.readFileSync(args.nodes, "utf8")) : DEFAULT_NODES;

	const { serial, port: mockPort } = await createAndOpenMockedZWaveSerialPort();
	const controller = await MockController.create({ homeId: 0x7e570001, ownNodeId: 1, mockPort, serial });
	controller.defineBehavior(...createDefaultMockControllerBehaviors());
	// The CC bytes exactly as the host sent them in SendData (zwave-js would re-serialise its parse).
	const sentToNodes = new Map();
	const sentTimes = new Map(); // node -> arrival time (hrtime ns) of each SendData, for benchmarks
	const handedToHost = new Map(); // node -> when each of its frames was written to the host (hrtime ns)
	// The Serial API link, frame by frame, so a benchmark can tell when the link was busy and with what.
	const linkTrace = [];
	const traceFrame = (from, data) => {
		if (data.length < 5 || data[0] !== SOF || linkTrace.length >= 100000) return;
		const head = Buffer.from(data.subarray(4, Math.min(data.length - 1, 12))).toString("hex");
		linkTrace.push([String(process.hrtime.bigint()), from, data[2], data[3], head]);
	};
	controller.defineBehavior({
		onHostData(_controller, data) {
			// SendData (0x13: node, length, CC) or SendDataBridge (0xA9, as zwave-js sends: source, node, length, CC)
			const bridge = data.length > 7 && data[0] === SOF && data[2] === 0x00 && data[3] === 0xa9 ? 1 : 0;
			if (bridge || (data.length > 6 && data[0] === SOF && data[2] === 0x00 && data[3] === 0x13)) {
				const to = data[4 + bridge];
				const list = sentToNodes.get(to) ?? [];
				list.push(data.slice(6 + bridge, 6 + bridge + data[5 + bridge]));
				sentToNodes.set(to, list);
				const times = sentTimes.get(to) ?? [];
				times.push(String(process.hrtime.bigint()));
				sentTimes.set(to, times);
				if (vanishOnSend.node === to) {
					// Vanish mid-transaction: the SendData is swallowed, no ACK, no response, no callback.
					const ms = vanishOnSend.ms;
					vanishOnSend.node = undefined;
					vanishNow(ms);
					return true;
				}
			}
			return false;
		},
	});
	// IsFailedNode (0x62) has no default mock behaviour: answer it as a stick does (a node the
	// controller knows is not failed; the mock has no failed nodes).
	controller.defineBehavior({
		onHostData(controller, data) {
			if (data.length >= 6 && data[0] === SOF && data[2] === 0x00 && data[3] === 0x62) {
				controller.ackHostMessage();
				// Not awaited: the host's ACK of this response arrives through the very loop that
				// calls onHostData, so waiting for it here would stall the mock's input.
				void controller.sendToHost(rawFrame(0x01, 0x62, [0x00])).catch((e) => log("IsFailedNode:", e.message));
				return true;
			}
			return false;
		},
	});
	const vanishOnSend = { node: undefined, ms: 0 };
	let vanishNow = () => {};
	const pendingExclusion = { nodeId: undefined };
	controller.defineBehavior(exclusionBehavior(pendingExclusion), idleStopBehavior());
	const nodes = new Map();
	for (const options of nodeOptions) {
		const node = await createNode(controller, options);
		controller.addNode(node);
		nodes.set(node.id, node);
	}

	const faucet = new Faucet(serial.readable);
	let client = undefined;
	let splitter = new HostSplitter();

	const server = net.createServer((socket) => {
		if (client) {
			log("refusing a second client");
			socket.destroy();
			return;
		}
		client = socket;
		socket.setNoDelay(true);
		splitter = new HostSplitter();
		log("client connected");
		const writable = new WritableStream({
			write(chunk) {
				if (chunk.type !== ZWaveSerialFrameType.SerialAPI || socket.destroyed) return;
				const data = chunk.data;
				if (typeof data !== "number") traceFrame("c", data);
				if (typeof data !== "number" && data.length > 5 && data[3] === 0x04) {
					// ApplicationCommandHandler: when a node's frame is handed to the host (benchmarks)
					const times = handedToHost.get(data[5]) ?? [];
					times.push(String(process.hrtime.bigint()));
					handedToHost.set(data[5], times);
				}
				socket.write(typeof data === "number" ? Uint8Array.from([data]) : data);
			},
		});
		faucet.connect(writable);
		socket.on("data", async (data) => {
			for (const piece of splitter.push(data)) {
				traceFrame("h", piece);
				// One write per message, in order: the mock parses each write as one message.
				await serial.writeAsync(piece).catch((e) => log("write to mock failed:", e));
			}
		});
		socket.on("error", (e) => log("socket error:", e.message));
		socket.on("close", () => {
			faucet.disconnect();
			void writable.close().catch(() => {});
			if (client === socket) client = undefined;
			log("client disconnected");
		});
	});

	const listen = () =>
		new Promise((resolve, reject) => {
			server.once("error", reject);
			server.listen({ host: args.host, port: args.port, exclusive: true }, () => {
				server.off("error", reject);
				args.port = server.address().port; // keep the port across "vanish"
				resolve();
			});
		});
	let listening = listen();
	await listening;
	process.stdout.write(`${args.port}\n`);
	log(`listening on ${args.host}:${args.port} with nodes ${[...nodes.keys()].join(", ")}`);

	let stopping = false;
	const stop = async () => {
		if (stopping) return;
		stopping = true;
		client?.destroy();
		server.close();
		controller.destroy();
		mockPort.destroy();
		await serial.close().catch(() => {});
		log("stopped");
		process.exit(0);
	};
	process.on("SIGTERM", stop);
	process.on("SIGINT", stop);

	vanishNow = (ms) => {
		log(`vanishing for ${ms} ms`);
		server.close();
		client?.destroy();
		// A replugged stick forgets what it was doing, but keeps its network.
		controller.state.clear();
		listening = new Promise((resolve) => setTimeout(resolve, ms)).then(listen);
		listening.then(
			() => log("back after vanishing"),
			(e) => log("could not listen again:", e),
		);
	};

	const node = (id) => {
		const found = controller.nodes.get(id);
		if (!found) throw new Error(`no node ${id}`);
		return found;
	};
	const handlers = {
		async report({ node: id, cc, endpoint = 0 }) {
			let bytes = [...Buffer.from(cc, "hex")];
			if (endpoint) bytes = [0x60, 0x0d, endpoint, 0x00, ...bytes];
			const n = node(id);
			const t = process.hrtime.bigint(); // when the report frame leaves the node (for benchmarks)
			await n.sendToController(createMockZWaveRequestFrame(raw(controller, bytes), { ackRequested: false }));
			return { t: String(t) };
		},
		async state({ node: id, key, value }) {
			node(id).state.set(key, value);
			return {};
		},
		async get_state({ node: id, key }) {
			return { value: node(id).state.get(key) ?? null };
		},
		async wakeup({ node: id }) {
			const n = node(id);
			setAwake(n, true);
			await n.sendToController(createMockZWaveRequestFrame(raw(controller, [0x84, 0x07]), { ackRequested: false }));
			return {};
		},
		async sleep({ node: id }) {
			setAwake(node(id), false);
			return {};
		},
		async include({ node: options }) {
			const { kind: _kind, ...rest } = options;
			controller.nodePendingInclusion = {
				...rest,
				setup: (n) => {
					n.defineBehavior(...customBehaviors());
					n.defineBehavior(sleepBehavior());
					attachValueSources(n);
					// A node stays awake while it is included, until the host says No More Information.
					setAwake(n, true);
				},
			};
			return {};
		},
		async exclude({ node: id }) {
			node(id);
			pendingExclusion.nodeId = id;
			return {};
		},
		async vanish({ ms = 1000 }) {
			vanishNow(ms);
			return {};
		},
		async vanish_on_send({ node: id, ms = 1000 }) {
			vanishOnSend.node = id;
			vanishOnSend.ms = ms;
			return {};
		},
		async listening() {
			await listening;
			return { port: args.port };
		},
		async handed({ node: id }) {
			return { t: handedToHost.get(id) ?? [] };
		},
		async link() {
			return { frames: linkTrace };
		},
		async received({ node: id }) {
			node(id);
			return {
				ccs: (sentToNodes.get(id) ?? []).map((b) => Buffer.from(b).toString("hex")),
				t: sentTimes.get(id) ?? [],
			};
		},
		async reset({ nodes: options = [] }) {
			// A fresh network on the same process and port (starting zwave-js takes most of a second):
			// drop the client, forget every node and every pending trick, then add `options`' nodes.
			await listening;
			if (client) {
				const closed = new Promise((resolve) => client.once("close", resolve));
				client.destroy();
				await closed;
			}
			for (const n of [...controller.nodes.values()]) controller.removeNode(n);
			controller.state.clear();
			controller.nodePendingInclusion = undefined;
			controller.clearReceivedHostMessages();
			pendingExclusion.nodeId = undefined;
			vanishOnSend.node = undefined;
			sentToNodes.clear();
			sentTimes.clear();
			handedToHost.clear();
			linkTrace.splice(0);
			mockErrors.splice(0);
			for (const nodeOptions of options === "household" ? DEFAULT_NODES : options) {
				controller.addNode(await createNode(controller, nodeOptions));
			}
			return { nodes: [...controller.nodes.keys()] };
		},
		async parse_cc({ cc: hex, node: id = 2 }) {
			// zwave-js's own CC parser on our bytes, as if node `id` had sent them: a cross-check of
			// our byte layouts against the reference implementation.
			const parsed = await CommandClass.parse(Buffer.from(hex, "hex"), {
				...controller.parsingContext,
				sourceNodeId: id,
				frameType: "singlecast",
			});
			const fields = {};
			for (const [key, value] of Object.entries(parsed)) {
				if (key.startsWith("_") || ["payload", "nodeId", "encapsulated"].includes(key)) continue;
				if (["number", "string", "boolean"].includes(typeof value)) fields[key] = value;
				else if (Array.isArray(value) && value.every((v) => typeof v !== "object")) fields[key] = value;
				else if (value && typeof value === "object" && "unit" in value && "value" in value) {
					fields[key] = { value: value.value, unit: value.unit }; // Duration
				}
			}
			return { name: parsed.constructor.name, ccId: parsed.ccId, ccCommand: parsed.ccCommand, fields };
		},
		async errors() {
			// What the mock refused or choked on since the last reset (e.g. a request while busy).
			return { errors: mockErrors.splice(0) };
		},
		async nodes() {
			return { nodes: [...controller.nodes.keys()] };
		},
		async quit() {
			setImmediate(stop);
			return {};
		},
	};

	// Launchers that import this one add controller behaviours and control commands here (defined
	// after ours, their behaviours run first): s2_launcher.mjs adds SmartStart (smartstart_mock.mjs).
	for (const extend of globalThis.hubAgentMockExtensions ?? []) extend({ controller, handlers, log });

	const rl = readline.createInterface({ input: process.stdin });
	rl.on("line", async (line) => {
		if (!line.trim()) return;
		let request;
		try {
			request = JSON.parse(line);
		} catch {
			process.stdout.write(`${JSON.stringify({ ok: false, error: `not JSON: ${line}` })}\n`);
			return;
		}
		const handler = handlers[request.cmd];
		let answer;
		try {
			if (!handler) throw new Error(`unknown command ${request.cmd}`);
			answer = { id: request.id, ok: true, ...(await handler(request)) };
		} catch (e) {
			answer = { id: request.id, ok: false, error: String(e?.message ?? e) };
		}
		process.stdout.write(`${JSON.stringify(answer)}\n`);
	});
	rl.on("close", stop);
}

main().catch((e) => {
	log("failed to start:", e?.stack ?? e);
	process.exit(1);
});
