// Compile Anchor.sol with the pinned solcjs (package.json) into the committed build output.
// Usage: node contracts/compile.js            writes src/tokenmall/adapters/chain/anchor.json
//        node contracts/compile.js --stdout   prints it (the test compares the two)
"use strict";
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const solc = require("solc");

const here = __dirname;
const source = fs.readFileSync(path.join(here, "Anchor.sol"), "utf8");
const settings = {
  evmVersion: "paris",
  optimizer: { enabled: true, runs: 200 },
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};
const input = { language: "Solidity", sources: { "Anchor.sol": { content: source } }, settings };
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  for (const e of errors) console.error(e.formattedMessage);
  process.exit(1);
}
const contract = output.contracts["Anchor.sol"].Anchor;
const built = {
  contract: "Anchor",
  compiler: "solc " + solc.version(),
  settings: { evmVersion: settings.evmVersion, optimizer: settings.optimizer },
  source_sha256: crypto.createHash("sha256").update(source).digest("hex"),
  abi: contract.abi,
  bytecode: "0x" + contract.evm.bytecode.object,
  deployed_bytecode: "0x" + contract.evm.deployedBytecode.object,
};
const text = JSON.stringify(built, null, 2) + "\n";
if (process.argv.includes("--stdout")) {
  process.stdout.write(text);
} else {
  const out = path.join(here, "..", "src", "tokenmall", "adapters", "chain", "anchor.json");
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, text);
  console.log("wrote " + path.relative(process.cwd(), out));
}
