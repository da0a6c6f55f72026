package fakewa

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// Variants of the open chat (Options.Variant): each renames what a
// WhatsApp build renames, so that the driver's default selectors miss one
// element and an override (VariantSelectors) finds it again.
const (
	// VariantNone draws the open chat as the page contract says.
	VariantNone = ""
	// VariantSendIcon renames the send button (Options.Variant).
	VariantSendIcon = "send-icon"
	// VariantAttachIcon renames the attach button's icon (Options.Variant).
	VariantAttachIcon = "attach-icon"
	// VariantBubbleText moves the attribute that marks a bubble's text
	// (Options.Variant).
	VariantBubbleText = "bubble-text"
	// VariantComposeWrapper takes the compose box, the send button and the
	// attach button out of footer (Options.Variant).
	VariantComposeWrapper = "compose-wrapper"
)

// Variants lists the values of Options.Variant but VariantNone.
var Variants = []string{VariantSendIcon, VariantAttachIcon, VariantBubbleText, VariantComposeWrapper}

// The driver's default selectors (the page contract's) that the variants
// miss; each override adds its own selectors before them, so that it
// matches the variant and still the page the contract describes.
const (
	defaultCompose      = `footer div[contenteditable="true"][role="textbox"]`
	defaultSendButton   = `footer button span[data-icon="send"], footer span[data-icon="wds-ic-send-filled"], footer button[aria-label="Send"], footer [role="button"][aria-label="Send"]`
	defaultBubbleText   = `div.copyable-text[data-pre-plain-text] span.selectable-text, div.copyable-text[data-pre-plain-text] span[dir]`
	defaultAttachButton = `footer span[data-icon="plus-rounded"], footer span[data-icon="plus"], footer span[data-icon="attach-menu-plus"], footer span[data-icon="clip"], footer [title="Attach"]`
)

// VariantSelectors gives, for each value of Options.Variant but
// VariantNone, a selectors override that matches it: the text of a JSON
// object for wapool's --selectors file, whose keys (compose, send_button,
// bubble_text, attach_button) name the Selectors fields it replaces. Each
// override matches its variant in both builds, and the page drawn without
// a variant too. Options.Variant says what each variant changes.
var VariantSelectors = map[string]string{
	VariantSendIcon: selectorsJSON(map[string]string{
		"send_button": `footer [role="button"][aria-label="Send message"], footer span[data-icon="wds-ic-send-filled-2"], ` + defaultSendButton,
	}),
	VariantAttachIcon: selectorsJSON(map[string]string{
		"attach_button": `footer span[data-icon="wds-ic-plus-filled"], footer button[aria-label="Attach"], ` + defaultAttachButton,
	}),
	VariantBubbleText: selectorsJSON(map[string]string{
		"bubble_text": `div.copyable-text[data-pre-plain-text-v2] span.selectable-text, div.copyable-text[data-pre-plain-text-v2] span[dir], ` + defaultBubbleText,
	}),
	VariantComposeWrapper: selectorsJSON(map[string]string{
		"compose":       inPanel(defaultCompose) + ", " + defaultCompose,
		"send_button":   inPanel(defaultSendButton) + ", " + defaultSendButton,
		"attach_button": inPanel(defaultAttachButton) + ", " + defaultAttachButton,
	}),
}

// composePanel is the element that stands for footer in the compose-wrapper
// variant.
const composePanel = `div[data-testid="compose-panel"]`

// inPanel rewrites a list of selectors that each start with "footer " to
// start with the compose panel instead.
func inPanel(list string) string {
	parts := strings.Split(list, ", ")
	for i, p := range parts {
		parts[i] = composePanel + strings.TrimPrefix(p, "footer")
	}
	return strings.Join(parts, ", ")
}

// selectorsJSON writes m as a JSON object with sorted keys and no HTML
// escaping (a selector's ">" stays ">").
func selectorsJSON(m map[string]string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		panic(err) // a map of strings always encodes
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// knownVariant reports whether v is a value of Options.Variant.
func knownVariant(v string) bool {
	return v == VariantNone || slices.Contains(Variants, v)
}
