# ruff: noqa: RUF001, E501  (Chinese uses full-width punctuation; one translation per line reads best)
"""Service errors in Simplified Chinese: the messages of every `ApiError` the control plane raises.

A message's id is its English template: the literal text of the service's message with `%s` where the
f-string puts a value (`"Deployment %s not found"`). `translate_error` matches a message against the
templates (most literal text first), translates the values it captured that are themselves messages or
listed words (a topic error inside an ACL error, a quota's noun, a deployment state), and puts them where
the Chinese text says: `%s` in order, or `%1`..`%9` when Chinese orders them differently. Validation lines
(`loc: msg; loc: msg`, from `errors.describe_validation_errors`) are translated part by part.

Rule: every message template an `ApiError` can carry has an entry here (or in `i18n.ZH_CN`); a unit test
walks the sources of `control/` and fails on one without. A message that matches nothing stays English.
"""

import functools
import re
from collections.abc import Mapping

SERVICE_ERRORS_ZH: dict[str, str] = {
    # Accounts, sign-in, Platform API keys
    "only the root account or an Administrator can manage sub-accounts": "只有主账号或管理员可以管理子账号",
    "there is exactly one root account": "只能有一个主账号",
    "username must be 1-64 characters": "用户名须为 1 到 64 个字符",
    "account %s already exists": "账号 %s 已存在",
    "Account not found": "账号不存在",
    "the root account cannot be deleted": "主账号不能删除",
    "the root account cannot be changed here": "不能在此修改主账号",
    "you cannot change your own role": "不能修改自己的角色",
    "the last Administrator keeps its role": "最后一个管理员不能更改角色",
    "the last Administrator cannot be deleted": "不能删除最后一个管理员",
    "change your own password on your account page": "请在“我的账号”页面修改自己的密码",
    "old password is wrong": "当前密码错误",
    "password must be at least %s characters": "密码至少需要 %s 个字符",
    "root account not created yet": "主账号尚未创建",
    "API key not found": "API Key 不存在",
    "only the root account or an Administrator can manage platform API keys": "只有主账号或管理员可以管理平台 API Key",
    "unknown functionality scope %s; expected one of %s": "未知的功能范围 %s；应为以下之一：%s",
    "a key needs at least one functionality scope": "Key 至少需要一个功能范围",
    "a key needs at least one project in its project scope": "Key 的项目范围至少需要一个项目",
    "description is longer than %s characters": "描述超过 %s 个字符",
    "no key %s": "没有 Key %s",
    "Reading the audit log needs an API key that reaches every project": "读取审计日志需要能访问所有项目的 API Key",
    "API key has no access to %s management": "API Key 无权进行%s管理",
    "API key has no access to this project": "API Key 无权访问该项目",
    "Missing API key credentials": "缺少 API Key 凭据",
    "Invalid API key or secret": "API Key 或 Secret 无效",
    "Request exceeds the limit": "请求超出频率限制",
    # Projects and deployments
    "Project %s not found": "项目 %s 不存在",
    "project name must be 1-64 characters": "项目名称须为 1 到 64 个字符",
    "description must be at most %s characters": "描述最多 %s 个字符",
    "Deployment %s not found": "部署 %s 不存在",
    "Node %s not found": "节点 %s 不存在",
    "could not allocate a deployment id and ports; try again": "无法分配部署 ID 和端口，请重试",
    "A Serverless deployment runs on the shared broker: nodes must be 1": "Serverless 部署运行在共享 Broker 上：节点数必须为 1",
    "deploymentName must not be blank": "部署名称不能为空",
    "Deployment %s is %s; only a stopped deployment can be started": "部署 %s 当前为%s；只有已停止的部署可以启动",
    "Deployment %s is %s; only a running deployment can be stopped": "部署 %s 当前为%s；只有运行中的部署可以停止",
    "no free broker ports left in %s-%s": "端口范围 %s-%s 中已没有空闲的 Broker 端口",
    "the platform CA has not been created yet": "平台 CA 尚未创建",
    "range must be one of %s, not %s": "range 必须是 %s 之一，不能是 %s",
    "latest must be 1 to %s seconds, not %s": "latest 必须为 1 到 %s 秒，不能是 %s",
    "event must be one of %s": "event 必须是 %s 之一",
    # TLS certificates (the rule id in brackets stays: it is the error's stable code)
    "Deployment %s has no TLS certificate": "部署 %s 没有 TLS 证书",
    "Serverless deployments do not support custom TLS certificates": "Serverless 部署不支持自定义 TLS 证书",
    "Deployment %s already has a TLS certificate; replace it with PUT": "部署 %s 已有 TLS 证书；请使用 PUT 替换",
    "Deployment %s has no TLS certificate; upload one with POST": "部署 %s 没有 TLS 证书；请使用 POST 上传",
    "certificate rejected [%s]: %s": "证书被拒绝 [%s]：%s",
    "`%s` block %s is %s; only CERTIFICATE blocks are allowed": "`%s` 的第 %s 个块是 %s；只允许 CERTIFICATE 块",
    "`%s` certificate %s cannot be decoded: %s": "无法解码 `%s` 的证书 %s：%s",
    "the private key is encrypted; upload it without a passphrase": "私钥已加密；请上传未设置口令的私钥",
    "`key` must hold exactly one PEM private key, found %s": "`key` 必须恰好包含一个 PEM 私钥，实际找到 %s 个",
    "`key` holds %s, not a private key": "`key` 包含的是 %s，不是私钥",
    "the private key cannot be decoded: %s": "无法解码私钥：%s",
    "%s keys are not supported; use RSA or ECDSA": "不支持 %s 密钥；请使用 RSA 或 ECDSA",
    "RSA key of %s bits; at least %s are required": "RSA 密钥为 %s 位；至少需要 %s 位",
    "EC curve %s is not supported; use P-256 or P-384": "不支持椭圆曲线 %s；请使用 P-256 或 P-384",
    "`%s` certificate %s is valid from %s": "`%s` 的证书 %s 自 %s 起才生效",
    "`%s` certificate %s expired at %s": "`%s` 的证书 %s 已于 %s 过期",
    "%s: %s is not issued by %s (%s)": "%s：%s 不是由 %s 签发的（%s）",
    "%s: the signature on %s does not verify with %s's key": "%s：%s 上的签名无法用 %s 的密钥验证",
    "%s: unsupported signature on %s (%s)": "%s：%s 上的签名不受支持（%s）",
    "%s: %s is not a CA certificate": "%s：%s 不是 CA 证书",
    "`cacert` %s is not a CA certificate": "`cacert` %s 不是 CA 证书",
    "tlsType must be 'one-way' or 'two-way', not %s": "tlsType 必须是 'one-way' 或 'two-way'，不能是 %s",
    "two-way TLS needs `cacert`, the CA of the client certificates": "双向 TLS 需要 `cacert`，即客户端证书的 CA",
    "`cacert` is only accepted with tlsType 'two-way'": "只有 tlsType 为 'two-way' 时才接受 `cacert`",
    "`cert` certificate %s (%s) is X.509 %s, not v3": "`cert` 的第 %s 个证书（%s）是 X.509 %s，不是 v3",
    "the certificate expires at %s, less than %s days from now": "证书将于 %s 过期，距今不足 %s 天",
    "`%s` holds a malformed or truncated PEM block": "`%s` 包含格式错误或被截断的 PEM 块",
    "`%s` holds no PEM certificate": "`%s` 不包含 PEM 证书",
    "the private key does not belong to the first certificate, %s": "私钥与第一个证书 %s 不匹配",
    "the private key does not belong to the first certificate, %s; it is the key of certificate %s: put the server certificate first": "私钥与第一个证书 %s 不匹配；它是第 %s 个证书的私钥：请把服务器证书放在最前面",
    # Deployment API: authentication users, ACL, bans
    "Invalid App ID or App Secret": "App ID 或 App Secret 无效",
    "API key has no %s permission on %s": "API Key 没有 %2 的 %1 权限",
    "User already exists": "用户已存在",
    "user id must be 1-255 characters": "用户 ID 须为 1 到 255 个字符",
    "password must not be empty": "密码不能为空",
    "password or password_hash is required": "需要 password 或 password_hash",
    "User not found": "用户不存在",
    "type must be plain or hash": "type 必须是 plain 或 hash",
    "user %s: password is required": "用户 %s：需要密码",
    "user %s: password_hash is required": "用户 %s：需要 password_hash",
    "this rule exists already": "该规则已存在",
    "ACL rule not found": "ACL 规则不存在",
    "topic must be 1-1024 characters": "主题须为 1 到 1024 个字符",
    "topic %s is not a valid topic filter: %s": "主题 %s 不是有效的主题过滤器：%s",
    "bad rule: action %s (pub, sub, pubsub, publish, subscribe, all)": "规则无效：动作 %s（应为 pub、sub、pubsub、publish、subscribe、all）",
    "bad rule: permission %s (allow, deny)": "规则无效：权限 %s（应为 allow、deny）",
    "%s must be 1-255 characters": "%s 须为 1 到 255 个字符",
    "a rule has a clientid or a username, not both": "一条规则只能指定 clientid 或 username 之一",
    "clientid in the body does not match the path": "请求体中的 clientid 与路径不一致",
    "username in the body does not match the path": "请求体中的 username 与路径不一致",
    "Not Found": "未找到",
    "as must be clientid, username or peerhost, not %s": "as 必须是 clientid、username 或 peerhost，不能是 %s",
    "who must be 1-255 characters": "who 须为 1 到 255 个字符",
    "who must be an IP address for a peerhost ban, not %s": "按 IP 封禁时 who 必须是 IP 地址，不能是 %s",
    "until must be later than at": "结束时间必须晚于开始时间",
    "The banned entry already exists": "该封禁条目已存在",
    "quota exceeded: at most %s banned entries": "超出配额：最多 %s 个封禁条目",
    "quota exceeded: at most %s %s per deployment": "超出配额：每个部署最多 %s 个%s",
    # Deployment API: clients, publishing, parameters
    "conn_state must be connected, idle or disconnected": "conn_state 必须是 connected、idle 或 disconnected",
    "%s must be an integer": "%s 必须是整数",
    "%s must be between %s and %s": "%s 必须介于 %s 和 %s 之间",
    "%s must be true or false": "%s 必须是 true 或 false",
    "%s must be a timestamp or an RFC 3339 time": "%s 必须是时间戳或 RFC 3339 时间",
    "%s must be a time between 1970 and 9999 (Unix seconds, milliseconds or RFC 3339)": "%s 必须是 1970 到 9999 年之间的时间（Unix 秒、毫秒或 RFC 3339）",
    "Deployment is stopped": "部署已停止",
    "Deployment is not running": "部署未在运行",
    "Deployment is not reachable: %s": "无法连接部署：%s",
    "Client ID not found": "客户端 ID 不存在",
    "Client not online": "客户端不在线",
    "payload is not valid base64": "消息内容不是有效的 base64",
    "payload_encoding must be plain or base64": "payload_encoding 必须是 plain 或 base64",
    "payload is larger than %s bytes": "消息内容超过 %s 字节",
    "properties.user_properties must be an object": "properties.user_properties 必须是对象",
    "properties.%s: %s": "properties.%s：%s",
    "Illegal topic or parameters": "主题或参数无效",
    "empty message list": "消息列表为空",
    "topic or topics is required": "需要 topic 或 topics",
    "Path not found": "路径不存在",
    "note must be at most 255 characters": "备注最多 255 个字符",
    "at most %s keys per deployment": "每个部署最多 %s 个 Key",
    "API key %s not found": "API Key %s 不存在",
    "permission %s must be METHOD:group with METHOD in %s and group in %s or *": "权限 %s 必须为 METHOD:group 形式，METHOD 取 %s 之一，group 取 %s 之一或 *",
    "this role may not manage deployment API keys": "该角色不能管理部署 API Key",
    "this account has no access to the deployment's project": "该账号无权访问此部署所属的项目",
    # Shadow service
    'a shadow request is a JSON object {"method", "payload"}': '影子请求须为 JSON 对象 {"method", "payload"}',
    "method must be PUT, PATCH or GET": "method 必须是 PUT、PATCH 或 GET",
    "the shadow document must be a JSON object": "影子文档必须是 JSON 对象",
    "the shadow document nests more than %s levels": "影子文档嵌套超过 %s 层",
    "quota exceeded: the shadow document is %s bytes, at most %s are allowed": "超出配额：影子文档为 %s 字节，最多允许 %s 字节",
    "the body is not valid JSON": "请求体不是有效的 JSON",
    "shadowID must be 8 to 64 letters, digits, '_' or '-'": "shadowID 须为 8 到 64 个字母、数字、'_' 或 '-'",
    "shadowName must be 3 to 50 letters, digits, '-', '_' or '.'": "shadowName 须为 3 到 50 个字母、数字、'-'、'_' 或 '.'",
    "shadow %s not found": "影子模型 %s 不存在",
    "quota exceeded: at most %s shadow models per deployment": "超出配额：每个部署最多 %s 个影子模型",
    "shadow %s already exists": "影子模型 %s 已存在",
    'PATCH cannot add the new object %s with content in one step: add it empty first ({"%s": {}}), then its content': 'PATCH 不能一步添加带内容的新对象 %s：请先添加空对象（{"%s": {}}），再添加其内容',
    "The shadow service is available on Dedicated deployments only": "影子服务仅适用于专有版部署",
    # Data integration
    "method must be POST, PUT, GET or DELETE": "method 必须是 POST、PUT、GET 或 DELETE",
    "%s: action %s not found": "%s：动作 %s 不存在",
    "%s.args must be an object": "%s.args 必须是对象",
    "%s.function must be republish or console, or name an action such as http:my_action": "%s.function 必须是 republish 或 console，或者是动作名，例如 http:my_action",
    "%s.params.$resource must name a %s resource": "%s.params.$resource 必须是 %s 类型的资源",
    "%s.params.$resource must name a web_hook resource": "%s.params.$resource 必须是 web_hook 类型的资源",
    "%s.params.method must be POST, PUT, GET or DELETE": "%s.params.method 必须是 POST、PUT、GET 或 DELETE",
    "%s.%s must be a string": "%s.%s 必须是字符串",
    "%s must be true, false or a template such as ${flags.retain}": "%s 必须是 true、false 或模板，例如 ${flags.retain}",
    "%s.%s must be 1-1024 characters": "%s.%s 须为 1 到 1024 个字符",
    "%s must be a duration such as 15s or 500ms": "%s 必须是时长，例如 15s 或 500ms",
    "%s must be between 1ms and %ss": "%s 必须介于 1ms 和 %ss 之间",
    "%s must be 1-255 letters, digits, '_', '-' or '.', starting with a letter or digit": "%s 须为 1 到 255 个字母、数字、'_'、'-' 或 '.'，并以字母或数字开头",
    "%s must be an http:// or https:// URL with a host": "%s 必须是带主机名的 http:// 或 https:// URL",
    "%s must be a PEM certificate (its content)": "%s 必须是 PEM 证书（证书内容）",
    "connector %s already exists": "连接器 %s 已存在",
    "Cannot delete %s %s while it is used by %s": "%s %s 正被 %s 使用，不能删除",
    "Action %s not found": "动作 %s 不存在",
    "connector %s:%s not found": "连接器 %s:%s 不存在",
    "action %s already exists": "动作 %s 已存在",
    "Cannot delete action %s while active rules are defined for it: %s": "动作 %s 仍被以下规则使用，不能删除：%s",
    "Rule %s not found": "规则 %s 不存在",
    "sql is required": "需要 sql",
    "rule id already exists": "规则 ID 已存在",
    "SQL error at line %s, column %s: %s": "SQL 错误（第 %s 行，第 %s 列）：%s",
    "%s %s not found": "%s %s 不存在",
    "%s must be 0, 1, 2 or a template such as ${qos}": "%s 必须是 0、1、2 或模板，例如 ${qos}",
    "%s.sql must be an SQL statement": "%s.sql 必须是 SQL 语句",
    "%s.batch_size must be 1-10000": "%s.batch_size 必须为 1 到 10000",
    "%s.cmd must be a Redis command template": "%s.cmd 必须是 Redis 命令模板",
    "%s.payload_tmpl must be a string": "%s.payload_tmpl 必须是字符串",
    "%s must be host:port, e.g. 127.0.0.1:5432": "%s 必须是 host:port 形式，例如 127.0.0.1:5432",
    "%s must start with a Redis command, e.g. HSET ${clientid} t 1": "%s 必须以 Redis 命令开头，例如 HSET ${clientid} t 1",
    "the rule failed on this input: %s": "规则在此输入上执行失败：%s",
    "context.event_type must be one of %s": "context.event_type 必须是 %s 之一",
    "context.event_type must be a string": "context.event_type 必须是字符串",
    "Resource %s not found": "资源 %s 不存在",
    "Action %s Not Found": "动作 %s 不存在",
    "the body must be a JSON object": "请求体必须是 JSON 对象",
    "SQL Not Match": "SQL 不匹配（SQL Not Match）",
    "rawsql is required": "需要 rawsql",
    "Resource Type %s Not Found": "资源类型 %s 不存在",
    "type must be one of: %s": "type 必须是以下之一：%s",
    # Log trace
    "end_at: must be after start_at and in the future": "end_at：必须晚于 start_at 且在未来",
    "end_at: a trace runs at most %s days": "end_at：追踪最多运行 %s 天",
    "Trace %s already exists": "追踪 %s 已存在",
    "A %s trace of %s already runs": "已有 %2 的%1追踪在运行",
    "A deployment has at most %s traces": "每个部署最多 %s 个追踪",
    "name: must start with a letter and hold only letters, digits, '_' and '-' (at most 256)": "name：必须以字母开头，只能包含字母、数字、'_' 和 '-'（最多 256 个字符）",
    "%s is required for a %s trace": "%2 追踪需要 %1",
    "topic: invalid topic filter %s": "topic：无效的主题过滤器 %s",
    "ip_address: invalid IP address %s": "ip_address：无效的 IP 地址 %s",
    "Trace %s not found": "追踪 %s 不存在",
    # The broker's answers passed through (protocol/topics.py, runtime/admin.py)
    "empty %s": "%s为空",
    "%s contains U+0000": "%s包含 U+0000",
    "%s longer than 65535 bytes": "%s超过 65535 字节",
    "%s has more than %s levels": "%s超过 %s 层",
    "wildcard in topic name": "主题名中不能包含通配符",
    "misplaced '#' in topic filter": "主题过滤器中 '#' 的位置不正确",
    "misplaced '+' in topic filter": "主题过滤器中 '+' 的位置不正确",
    "invalid shared subscription filter": "共享订阅过滤器无效",
    "topic filter has more than %s levels": "主题过滤器超过 %s 层",
    "invalid topic filter: %s": "无效的主题过滤器：%s",
    "invalid base64: %s": "无效的 base64：%s",
    "client %s not found": "客户端 %s 不存在",
    "request line too long": "请求行过长",
    "invalid request: %s": "请求无效：%s",
    "bad admin token": "管理令牌无效",
    "internal error": "内部错误",
    "tenant %s not found": "租户 %s 不存在",
    "cannot apply spec: %s": "无法应用配置：%s",
    "trace %s not found": "追踪 %s 不存在",
    "no retained message on %s": "主题 %s 上没有保留消息",
    "Viewed message doesn't exist": "查看的消息不存在",
    # Topic metrics (deployment_api/topic_metrics/)
    "Topic can not be empty": "主题不能为空",
    "Wildcard topic is not supported": "不支持通配符主题",
    "Invalid topic name: %s": "无效的主题名：%s",
    "Topic already registered": "主题已注册",
    "Max topic metrics count is %s": "主题监控数量上限为 %s",
    "Topic not found": "主题不存在",
    # Importing users (console/user_import.py)
    "choose a CSV or JSON file": "请选择 CSV 或 JSON 文件",
    "the file is larger than %s MiB": "文件超过 %s MiB",
    "the file is not UTF-8 text": "文件不是 UTF-8 文本",
    "not valid JSON: %s (line %s)": "不是有效的 JSON：%s（第 %s 行）",
    "a JSON import must be an array of objects": "JSON 导入文件必须是对象数组",
    "the CSV header must name a user_id column": "CSV 表头必须包含 user_id 列",
    "not valid CSV: %s": "不是有效的 CSV：%s",
    "at most %s rows per import": "每次导入最多 %s 行",
    "already_exists": "已存在",
}

# Pydantic's messages, as `describe_validation_errors` shows them after the field (`cert: ...`).
VALIDATION_ZH: dict[str, str] = {
    "Field required": "必填",
    "String should have at least %s character": "至少需要 %s 个字符",
    "String should have at least %s characters": "至少需要 %s 个字符",
    "String should have at most %s character": "最多 %s 个字符",
    "String should have at most %s characters": "最多 %s 个字符",
    "String should match pattern %s": "须匹配模式 %s",
    "Input should be a valid string": "须为字符串",
    "Input should be a valid integer": "须为整数",
    "Input should be a valid integer, unable to parse string as an integer": "须为整数，无法将字符串解析为整数",
    "Input should be a valid integer, got a number with a fractional part": "须为整数，不能带小数部分",
    "Input should be a valid number": "须为数字",
    "Input should be a valid number, unable to parse string as a number": "须为数字，无法将字符串解析为数字",
    "Input should be a valid boolean": "须为布尔值",
    "Input should be a valid boolean, unable to interpret input": "须为布尔值，无法解析输入",
    "Input should be a valid dictionary": "须为对象",
    "Input should be a valid dictionary or object to extract fields from": "须为对象",
    "Input should be a valid list": "须为列表",
    "Input should be a valid array": "须为数组",
    "Input should be %s": "须为 %s",
    "Input should be greater than %s": "须大于 %s",
    "Input should be greater than or equal to %s": "须大于或等于 %s",
    "Input should be less than %s": "须小于 %s",
    "Input should be less than or equal to %s": "须小于或等于 %s",
    "List should have at least %s item after validation, not %s": "校验后至少需要 %s 项，实际为 %s 项",
    "List should have at least %s items after validation, not %s": "校验后至少需要 %s 项，实际为 %s 项",
    "List should have at most %s item after validation, not %s": "校验后最多 %s 项，实际为 %s 项",
    "List should have at most %s items after validation, not %s": "校验后最多 %s 项，实际为 %s 项",
    "Extra inputs are not permitted": "不允许额外的字段",
    "Value error, %s": "取值错误：%s",
    "Request body is not valid JSON": "请求体不是有效的 JSON",
    "invalid request": "请求无效",
    "invalid": "无效",
}

# Words a message template takes as a value: quota nouns (`quotas.require_room`), deployment states,
# trace kinds, certificate positions.
WORDS_ZH: dict[str, str] = {
    "authentication entries": "认证条目",
    "ACL entries": "ACL 条目",
    "rules for one username": "同一用户名的规则",
    "rules for one clientid": "同一客户端 ID 的规则",
    "rules for one %s": "同一 %s 的规则",
    "connectors": "连接器",
    "actions": "动作",
    "actions per rule": "每条规则的动作",
    "rules": "规则",
    "topic name": "主题名",
    "topic filter": "主题过滤器",
    "pending": "等待中",
    "starting": "启动中",
    "running": "运行中",
    "stopping": "停止中",
    "stopped": "已停止",
    "failed": "失败",
    "clientid": "客户端 ID",
    "username": "用户名",
    "topic": "主题",
    "ip_address": "IP 地址",
    "self-signed certificate": "自签名证书",
}

_PLACEHOLDER = "%s"
_TARGET = re.compile(r"%(s|[1-9])")
_LOCATION = re.compile(r"[\w.\[\]$-]+")  # a validation error's field path: body.projectID, cert, items.0
_MAX_DEPTH = 3  # a captured value is translated again, at most this deep (a topic error inside an ACL error)


@functools.cache
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    """Templates with a placeholder as anchored regexes, the most literal text first (most specific)."""
    table = {**WORDS_ZH, **VALIDATION_ZH, **SERVICE_ERRORS_ZH}
    found = []
    for english, chinese in table.items():
        if _PLACEHOLDER not in english:
            continue
        parts = [re.escape(part) for part in english.split(_PLACEHOLDER)]
        literal = sum(len(part) for part in english.split(_PLACEHOLDER))
        found.append((literal, re.compile("(.+?)".join(parts), re.DOTALL), chinese))
    found.sort(key=lambda item: -item[0])
    return [(pattern, chinese) for _literal, pattern, chinese in found]


def _fill(chinese: str, values: list[str]) -> str:
    position = iter(range(len(values)))

    def value(match: re.Match[str]) -> str:
        which = match.group(1)
        index = next(position) if which == "s" else int(which) - 1
        return values[index] if index < len(values) else match.group(0)

    return _TARGET.sub(value, chinese)


def _translate(message: str, depth: int) -> str | None:
    exact = SERVICE_ERRORS_ZH.get(message) or VALIDATION_ZH.get(message) or WORDS_ZH.get(message)
    if exact is not None:
        return exact
    if depth >= _MAX_DEPTH:
        return None
    for pattern, chinese in _patterns():
        match = pattern.fullmatch(message)
        if match is not None:
            values = [_translate(value, depth + 1) or value for value in match.groups()]
            return _fill(chinese, values)
    return _validation_lines(message, depth)


def _validation_lines(message: str, depth: int) -> str | None:
    """`cert: String should have at least 1 character; key: Field required`, part by part."""
    parts = []
    for line in message.split("; "):
        location, colon, text = line.partition(": ")
        if not colon or not _LOCATION.fullmatch(location):
            return None
        translated = _translate(text, depth + 1)
        if translated is None:
            return None
        parts.append(f"{location}：{translated}")
    return "；".join(parts)


def translate_error(message: str, extra: Mapping[str, str] | None = None) -> str | None:
    """The zh-CN text of a service error message, or None when no template matches it.

    Args:
        message: the message as the service worded it (`ApiError.message`).
        extra: exact translations looked up first (the console's own table, `i18n.ZH_CN`).
    """
    if extra is not None and message in extra:
        return extra[message]
    return _translate(message, 0)
