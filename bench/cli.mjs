// The command-line form the bench's Node.js tools share: options written
// --name=value, and integer options checked against a range.

// Splits one `--name=value` argument. `key` is the name in camelCase, and
// `number` is the value of an option listed in `integers` as [min, max],
// after a range check. Calls `fail` with a message for a malformed argument.
export function readOption(argument, integers, fail) {
  const match = /^--([a-z-]+)=(.*)$/.exec(argument);
  if (!match) fail(`invalid argument '${argument}': options have the form --name=value; see --help`);
  const [, name, value] = match;
  const key = name.replace(/-([a-z])/g, (_, letter) => letter.toUpperCase());
  if (!(name in integers)) return { name, key, value };

  const [minimum, maximum] = integers[name];
  const number = Number(value);
  if (!Number.isInteger(number) || number < minimum || number > maximum) {
    fail(`invalid --${name} '${value}': expected an integer from ${minimum} to ${maximum}`);
  }
  return { name, key, value, number };
}
