#!/usr/bin/env node
// SendData round trips through zwave-js's own Driver, for tests/bench/bench_zwave_vs_zwavejs.py.
//
// Usage: node bench_zwavejs.mjs tcp://127.0.0.1:PORT COUNT NODE_ID
// Prints one JSON line: {"ms": [...]} - each entry the time from handing a SendData request with a
// Binary Switch Set to driver.sendMessage() until its callback (transmit report) resolved it.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { BinarySwitchCCSet } from "@zwave-js/cc";
import { MessagePriority, TransmitOptions } from "@zwave-js/core";
import { SendDataRequest } from "@zwave-js/serial/serialapi";
import { Driver } from "zwave-js";

const [url, countArg, nodeArg] = process.argv.slice(2);
const count = Number(countArg ?? 1000);
const nodeId = Number(nodeArg ?? 2);
if (!url?.startsWith("tcp://127.0.0.1:")) {
	console.error("usage: bench_zwavejs.mjs tcp://127.0.0.1:PORT COUNT NODE_ID (loopback only)");
	process.exit(2);
}

const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "zwavejs-bench-"));
const driver = new Driver(url, {
	logConfig: process.env.ZWAVEJS_BENCH_LOG ? { enabled: true, level: "debug", forceConsole: true } : { enabled: false, level: "error" },
	storage: { cacheDir, lockDir: cacheDir },
	testingHooks: { skipNodeInterview: true, loadConfiguration: false },
});
driver.on("error", (e) => console.error("zwave-js driver error:", e?.message ?? e));

const ready = new Promise((resolve) => driver.once("driver ready", resolve));
await driver.start();
await ready;

const send = async (value) => {
	// The same bytes our side sends: Binary Switch Set (0x25 0x01 value).
	const command = new BinarySwitchCCSet({ nodeId, targetValue: value });
	const msg = new SendDataRequest({ command, transmitOptions: TransmitOptions.DEFAULT });
	const started = performance.now();
	// Immediate: without an interview (skipped: it is not what we measure) zwave-js cannot know the
	// node listens and would hold the message for a wake-up.
	await driver.sendMessage(msg, { priority: MessagePriority.Immediate });
	return performance.now() - started;
};

for (let i = 0; i < 50; i++) await send(i % 2 === 1); // warm-up
const ms = [];
for (let i = 0; i < count; i++) ms.push(await send(i % 2 === 1));

process.stdout.write(`${JSON.stringify({ ms })}\n`);
await driver.destroy();
fs.rmSync(cacheDir, { recursive: true, force: true });
process.exit(0);
