#!/usr/bin/env node
// zwave-js's own Driver as the host of the issue 16 local-control probe (tests/bench/bench_local_control.py --mock).
//
// Usage: node bench_zwavejs_rule.mjs tcp://127.0.0.1:PORT
// Connects to the launcher's MockController, interviews the household, and runs the probe's rule the
// way a zwave-js application would: when node 2's Binary Switch current value changes, set node 3's
// Multilevel Switch to 40 (on) or 0 (off) through the node's CC API. Prints "ready" once every listening
// node is ready; the Python side then drives the triggers and measures inside the mock. Exits when stdin closes.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Driver } from "zwave-js";

const [url] = process.argv.slice(2);
if (!url?.startsWith("tcp://127.0.0.1:")) {
	console.error("usage: bench_zwavejs_rule.mjs tcp://127.0.0.1:PORT (loopback only)");
	process.exit(2);
}

const TRIGGER = 2;
const TARGET = 3;
const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "zwavejs-rule-"));
const driver = new Driver(url, {
	logConfig: process.env.ZWAVEJS_BENCH_LOG
		? { enabled: true, level: "debug", forceConsole: true }
		: { enabled: false, level: "error" },
	storage: { cacheDir, lockDir: cacheDir },
	// The device configuration database stays loaded: the interview looks devices up in it.
});
driver.on("error", (e) => console.error("zwave-js driver error:", e?.message ?? e));

const quit = async () => {
	await driver.destroy().catch(() => {});
	fs.rmSync(cacheDir, { recursive: true, force: true });
	process.exit(0);
};
process.stdin.on("end", quit);
process.stdin.resume();

driver.once("driver ready", async () => {
	const trigger = driver.controller.nodes.get(TRIGGER);
	const target = driver.controller.nodes.get(TARGET);
	// Every listening node interviewed (the sleeper waits for a wake-up that never comes), so no
	// interview traffic is left on the link when the triggers start.
	// (canSleep is known only after the protocol info stage, so look again until it settles).
	const settled = () => [...driver.controller.nodes.values()].every((n) => n.ready || n.canSleep === true);
	while (!settled()) await new Promise((resolve) => setTimeout(resolve, 100));
	trigger.on("value updated", (_node, args) => {
		if (args.commandClass !== 0x25 || args.property !== "currentValue") return;
		const level = args.newValue ? 40 : 0;
		target.commandClasses["Multilevel Switch"]
			.set(level)
			.catch((e) => console.error("set failed:", e?.message ?? e));
	});
	process.stdout.write("ready\n");
});
await driver.start();
