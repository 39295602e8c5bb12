// The controller's time as the console uses it: "today", the week shown, the
// age of a screenshot and whether a takeover is still on are the controller's
// answer, not the staff PC's clock (which may be wrong by hours). Every API
// answer's Date header moves the estimate; a PC within two seconds of the
// controller keeps its own clock.

let offsetMs = 0;

const kTolerateMs = 2000;

// From a response's Date header (whole seconds: the middle of its second).
export function noteServerDate(header) {
  const at = Date.parse(header || '');
  if (Number.isNaN(at)) return;
  const measured = at + 500 - Date.now();
  offsetMs = Math.abs(measured) > kTolerateMs ? measured : 0;
}

// Milliseconds since the epoch on the controller's clock.
export function serverNow() {
  return Date.now() + offsetMs;
}
