-- Argo CD health check for opennebula.io/OpenNebulaHost and OpenNebulaCluster.
-- Healthy once the object is in OpenNebula as its spec says (Ready: an enabled host
-- monitored, a disabled or offline host in that state, a cluster in sync); Degraded with
-- the reason when it cannot be (monitoring fails, a name taken, a refused delete, oned
-- unreachable); Progressing otherwise. A status older than the spec is never Healthy.
local hs = {}
local gen = obj.metadata.generation or 0

if obj.status == nil or obj.status.observedGeneration == nil or obj.status.observedGeneration < gen then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(gen)
  return hs
end

local conditions = {}
for _, c in ipairs(obj.status.conditions or {}) do
  conditions[c.type] = c
end

local function current(c)
  return c ~= nil and (c.observedGeneration == nil or c.observedGeneration >= gen)
end

local degraded = conditions["Degraded"]
if current(degraded) and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = (degraded.reason or "Degraded") .. ": " .. (degraded.message or "")
  return hs
end

local ready = conditions["Ready"]
if current(ready) and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or "Ready"
  return hs
end

hs.status = "Progressing"
if current(ready) and ready.message ~= nil then
  hs.message = ready.message
else
  hs.message = "Waiting for the object to be in OpenNebula"
end
return hs
