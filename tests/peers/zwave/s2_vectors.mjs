#!/usr/bin/env node
// Golden vectors for hub-agent's own S2/S0 implementation, computed by zwave-js's exported functions.
//
// Usage: node s2_vectors.mjs > ../../zwave/security/vectors.json
//
// Inputs are derived deterministically (SHA-256 of a label and a counter), so the file is reproducible;
// the Python tests (tests/zwave/security/test_s2_vectors.py) recompute every output with our code and
// compare. Whole-frame vectors run zwave-js's SecurityManager2 + Security2CCMessageEncapsulation with its
// entropy source pinned to given bytes, in both directions (frame built by zwave-js for us to open, and
// the frame zwave-js builds from the same inputs our sealing must reproduce byte for byte).

import { createHash } from "node:crypto";
import {
	CtrDRBG,
	SecurityClass,
	SecurityManager2,
	computeCMAC,
	computeMAC,
	computeNoncePRK,
	computePRK,
	deriveMEI,
	deriveNetworkKeys,
	deriveSharedECDHSecret,
	deriveTempKeys,
	authHomeIdFromDSK,
	dskToString,
	encryptAES128CCM,
	encryptAES128OFB,
	generateAuthKey,
	generateEncryptionKey,
	keyPairFromRawECDHPrivateKey,
	nwiHomeIdFromDSK,
	parseQRCodeString,
} from "@zwave-js/core";
import { BinarySwitchCCSet, Security2CCMessageEncapsulation, DoorLockCCOperationReport } from "@zwave-js/cc";

const hex = (b) => Buffer.from(b).toString("hex");
const bytes = (label, n) => {
	const out = [];
	for (let i = 0; out.length < n; i++) out.push(...createHash("sha256").update(`${label}/${i}`).digest());
	return Uint8Array.from(out.slice(0, n));
};

const v = { generator: "tests/peers/zwave/s2_vectors.mjs", zwave_js_core: "15.29.0" };

v.cmac = [];
for (const len of [0, 1, 15, 16, 17, 32, 47, 64]) {
	const key = bytes(`cmac-key-${len}`, 16);
	const msg = bytes(`cmac-msg-${len}`, len);
	v.cmac.push({ key: hex(key), message: hex(msg), mac: hex(await computeCMAC(msg, key)) });
}

v.ecdh = [];
for (const i of [0, 1, 2]) {
	const a = await keyPairFromRawECDHPrivateKey(bytes(`ecdh-a-${i}`, 32));
	const b = await keyPairFromRawECDHPrivateKey(bytes(`ecdh-b-${i}`, 32));
	const shared = await deriveSharedECDHSecret({ publicKey: b.publicKey, privateKey: a.privateKey });
	const prk = await computePRK(shared, a.publicKey, b.publicKey);
	const temp = await deriveTempKeys(prk);
	v.ecdh.push({
		private_a: hex(a.privateKey),
		public_a: hex(a.publicKey),
		private_b: hex(b.privateKey),
		public_b: hex(b.publicKey),
		shared: hex(shared),
		prk: hex(prk),
		temp_ccm: hex(temp.tempKeyCCM),
		temp_personalization: hex(temp.tempPersonalizationString),
		dsk: dskToString(b.publicKey.subarray(0, 16)),
	});
}

v.network_keys = [];
for (const i of [0, 1, 2]) {
	const pnk = bytes(`pnk-${i}`, 16);
	const k = await deriveNetworkKeys(pnk);
	v.network_keys.push({ pnk: hex(pnk), ccm: hex(k.keyCCM), personalization: hex(k.personalizationString), mpan: hex(k.keyMPAN) });
}

v.mei = [];
for (const i of [0, 1]) {
	const sei = bytes(`sei-${i}`, 16);
	const rei = bytes(`rei-${i}`, 16);
	const prk = await computeNoncePRK(sei, rei);
	v.mei.push({ sender_ei: hex(sei), receiver_ei: hex(rei), nonce_prk: hex(prk), mei: hex(await deriveMEI(prk)) });
}

v.drbg = [];
for (const [i, persLen] of [[0, 0], [1, 32], [2, 32]]) {
	const entropy = bytes(`drbg-entropy-${i}`, 32);
	const pers = bytes(`drbg-pers-${i}`, persLen);
	const d = new CtrDRBG();
	await d.init(Uint8Array.from(entropy), persLen ? pers : undefined);
	const outputs = [];
	for (const n of [16, 16, 13, 32, 16]) outputs.push(hex(await d.generate(n)));
	v.drbg.push({ entropy: hex(entropy), personalization: hex(pers), lengths: [16, 16, 13, 32, 16], outputs });
}

v.ccm = [];
for (const [i, ptLen, aadLen] of [[0, 0, 8], [1, 3, 12], [2, 16, 20], [3, 40, 30]]) {
	const key = bytes(`ccm-key-${i}`, 16);
	const nonce = bytes(`ccm-nonce-${i}`, 13);
	const aad = bytes(`ccm-aad-${i}`, aadLen);
	const pt = bytes(`ccm-pt-${i}`, ptLen);
	const r = await encryptAES128CCM(pt, key, nonce, aad, 8);
	v.ccm.push({ key: hex(key), nonce: hex(nonce), aad: hex(aad), plaintext: hex(pt), ciphertext: hex(r.ciphertext), tag: hex(r.authTag) });
}

v.s0 = [];
for (const i of [0, 1]) {
	const nk = bytes(`s0-key-${i}`, 16);
	const iv = bytes(`s0-iv-${i}`, 16);
	const pt = bytes(`s0-pt-${i}`, 5 + i * 20);
	const auth = bytes(`s0-auth-${i}`, 20 + i * 13);
	const authKey = await generateAuthKey(nk);
	const encKey = await generateEncryptionKey(nk);
	v.s0.push({
		network_key: hex(nk),
		auth_key: hex(authKey),
		enc_key: hex(encKey),
		iv: hex(iv),
		plaintext: hex(pt),
		ofb: hex(await encryptAES128OFB(pt, encKey, iv)),
		auth_data: hex(auth),
		mac: hex(await computeMAC(auth, authKey)),
	});
}

// --- whole S2 frames --------------------------------------------------------------------------------
// zwave-js takes SPAN entropy from its SecurityManager2's rng; pin it to the given bytes.
function pinnedRng(ei) {
	return { generate: async () => Uint8Array.from(ei) };
}
function ctxFor(sm, ownNodeId, homeId, securityClass) {
	return {
		homeId,
		ownNodeId,
		securityManager2: sm,
		frameType: "singlecast",
		getHighestSecurityClass: () => securityClass,
		hasSecurityClass: (_n, c) => c === securityClass,
		setSecurityClass: () => {},
		getSupportedCCVersion: () => 1,
		getDeviceConfig: () => undefined,
		getNode: () => undefined,
		getValueDB: () => undefined,
		logNode: () => {},
	};
}

v.s2_frames = [];
const homeId = 0xc0ffee42;
for (const [i, klass, name] of [
	[0, SecurityClass.S2_Unauthenticated, "S2_Unauthenticated"],
	[1, SecurityClass.S2_AccessControl, "S2_AccessControl"],
]) {
	const pnk = bytes(`frame-pnk-${i}`, 16);
	const senderEI = bytes(`frame-sei-${i}`, 16);
	const receiverEI = bytes(`frame-rei-${i}`, 16);
	const seq = 0x30 + i;
	// From the controller (node 1) to node 7: the receiver's EI came in a Nonce Report; the frame
	// carries our sender EI in a SPAN extension; then a second frame on the same SPAN.
	const sm = await SecurityManager2.create();
	await sm.setKey(klass, pnk);
	sm.storeRemoteEI(7, receiverEI);
	sm.rng = pinnedRng(senderEI);
	sm.ownSequenceNumbers.set(7, seq - 1);
	const ctx = ctxFor(sm, 1, homeId, klass);
	const on = new BinarySwitchCCSet({ nodeId: 7, targetValue: true });
	const off = new BinarySwitchCCSet({ nodeId: 7, targetValue: false });
	const payloads = [hex(await on.serialize(ctx)), hex(await off.serialize(ctx))];
	const first = new Security2CCMessageEncapsulation({ nodeId: 7, encapsulated: on });
	const second = new Security2CCMessageEncapsulation({ nodeId: 7, encapsulated: off });
	const frames = [hex(await first.serialize(ctx)), hex(await second.serialize(ctx))];
	// From node 7 to the controller: the node sends with its own SPAN extension (we offered receiverEI).
	const smNode = await SecurityManager2.create();
	await smNode.setKey(klass, pnk);
	smNode.storeRemoteEI(1, receiverEI);
	smNode.rng = pinnedRng(senderEI);
	smNode.ownSequenceNumbers.set(1, seq + 9);
	const nodeCtx = ctxFor(smNode, 7, homeId, klass);
	const report = new DoorLockCCOperationReport({
		nodeId: 1,
		currentMode: 0xff,
		outsideHandlesCanOpenDoor: [false, false, false, false],
		insideHandlesCanOpenDoor: [false, false, false, false],
		lockTimeout: 0xfe,
	});
	const fromNode = new Security2CCMessageEncapsulation({ nodeId: 1, encapsulated: report });
	const inbound = hex(await fromNode.serialize(nodeCtx));
	v.s2_frames.push({
		security_class: name,
		network_key: hex(pnk),
		home_id: homeId,
		controller: 1,
		node: 7,
		sender_ei: hex(senderEI),
		receiver_ei: hex(receiverEI),
		first_seq: seq,
		outbound_payloads: payloads,
		outbound: frames,
		inbound_seq: seq + 10,
		inbound_payload: hex(await report.serialize(nodeCtx)),
		inbound,
	});
}

// --- SmartStart / S2 QR code strings: built here, parsed by zwave-js ---------------------------------
const pad = (n, width) => String(n).padStart(width, "0");
function qrString(version, keys, dsk, tlvs) {
	let body = pad(keys, 3);
	for (let i = 0; i < 16; i += 2) body += pad((dsk[i] << 8) | dsk[i + 1], 5);
	for (const [type, critical, value] of tlvs) body += pad(type * 2 + (critical ? 1 : 0), 2) + pad(value.length, 2) + value;
	const checksum = createHash("sha1").update(body).digest().readUInt16BE(0);
	return "90" + pad(version, 2) + pad(checksum, 5) + body;
}
const productType = [0, false, pad((0x40 << 8) | 0x03, 5) + pad(0x0b00, 5)];
const productId = [1, false, pad(0x0090, 5) + pad(0x0001, 5) + pad(0x0236, 5) + pad((5 << 8) | 3, 5)];
const uuid = [3, false, "00" + [...bytes("qr-uuid", 16)].reduce((acc, b, i, a) => (i % 2 ? acc : acc + pad((b << 8) | a[i + 1], 5)), "")];
const qrInputs = [
	qrString(1, 0x87, bytes("qr-dsk-0", 16), [productType, productId]),
	qrString(0, 0x01, bytes("qr-dsk-1", 16), [productId, productType, [2, false, "05"], [4, false, "03"], uuid]),
	qrString(1, 0x04, bytes("qr-dsk-2", 16), [productType, productId, [45, false, "123"]]),
	qrString(1, 0x02, bytes("qr-dsk-3", 16), [productType, productId, [46, true, "1"]]),
	qrString(1, 0x02, bytes("qr-dsk-4", 16), [productType]),
];
const broken = qrInputs[0].slice(0, 4) + pad((parseInt(qrInputs[0].slice(4, 9), 10) + 1) % 65536, 5) + qrInputs[0].slice(9);
v.qr = [];
for (const qr of [...qrInputs, broken]) {
	try {
		const parsed = await parseQRCodeString(qr);
		v.qr.push({ qr, parsed });
	} catch (e) {
		v.qr.push({ qr, error: String(e.message ?? e) });
	}
}

// --- SmartStart home ids: the NWI home id a node announces itself with, the auth home id it moves to --
// Edge bytes too: bits 31-30 and bit 0 of DSK bytes 8-11 and 12-15 all set, and all clear.
const edge = (fill) => Uint8Array.from({ length: 16 }, () => fill);
v.smart_start_home_ids = [];
for (const dsk of [bytes("ss-dsk-0", 16), bytes("ss-dsk-1", 16), bytes("ss-dsk-2", 16), edge(0xff), edge(0x00)]) {
	v.smart_start_home_ids.push({ dsk: dskToString(dsk), nwi: hex(nwiHomeIdFromDSK(dsk)), auth: hex(authHomeIdFromDSK(dsk)) });
}

process.stdout.write(JSON.stringify(v, null, 1) + "\n");
