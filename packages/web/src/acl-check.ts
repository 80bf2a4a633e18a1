/**
 * The ACL validator the CLI and the daemon run (packages/mesh/src/acl/schema.ts), bundled into the
 * page, so validation as you type shows exactly the messages `meshlan acl set` prints (rule and
 * field, e.g. `rules[0].ports[0]: ...`). Imported by file: the package's entry pulls in libp2p.
 */
export { type AclIssue, type AclResult, formatAclIssues, parseAcl } from '../../mesh/src/acl/schema.ts'

/** How the editor shows a signed ACL: the JSON as stored, two-space indented. */
export function aclText(acl: unknown): string {
  return JSON.stringify(acl ?? { rules: [] }, null, 2)
}
