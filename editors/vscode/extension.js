// The nemoflow extension: starts `nemoflow lsp` for .nemo files (the grammar in syntaxes/ needs no code).
"use strict";
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate() {
  const [command, ...args] = vscode.workspace.getConfiguration("nemoflow").get("server.command", ["nemoflow", "lsp"]);
  const serverOptions = { command, args };
  const clientOptions = { documentSelector: [{ language: "nemo" }] };
  client = new LanguageClient("nemoflow", "nemoflow language server", serverOptions, clientOptions);
  client.start();  // VS Code calls deactivate, which stops it
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
