// Package examples bundles the example playbook, so that a bare
// `firebreak serve` has something to run.
package examples

import _ "embed"

// TelegramPlatformPlaybook is examples/telegram-platform/playbook.md, byte
// for byte.
//
//go:embed telegram-platform/playbook.md
var TelegramPlatformPlaybook []byte

// TelegramPlatformPlaybookPath is the path the bundled playbook is shown
// under.
const TelegramPlatformPlaybookPath = "examples/telegram-platform/playbook.md"
