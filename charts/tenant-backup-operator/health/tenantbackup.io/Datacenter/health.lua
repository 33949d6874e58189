-- Argo CD health of a tenantbackup.io Datacenter, read from the kstatus conditions the operator writes
-- (Ready, Reconciling, Stalled).
-- Uses Lua's base and table libraries only: Argo CD opens no others.
-- hack/health-test runs the cases of health_test.yaml under gopher-lua (make test).
local hs = {}

local function condition(type)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function describe(c)
  if c.message == nil or c.message == "" then
    return c.reason or c.type
  end
  if c.reason == nil or c.reason == "" then
    return c.message
  end
  return c.reason .. ": " .. c.message
end

local generation = obj.metadata.generation
local ready = condition("Ready")
local stalled = condition("Stalled")
local reconciling = condition("Reconciling")

if obj.metadata.deletionTimestamp ~= nil then
  if stalled ~= nil and stalled.status == "True" then
    hs.status = "Degraded"
    hs.message = "Deletion blocked: " .. describe(stalled)
  else
    hs.status = "Progressing"
    hs.message = "Being deleted"
  end
  return hs
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report a Ready condition"
  return hs
end

-- A condition written for an older generation says nothing about the spec as it is now.
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation or (ready.observedGeneration ~= nil and ready.observedGeneration < generation)) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end

if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = describe(reconciling)
  return hs
end

if ready.status ~= "True" then
  hs.status = "Progressing"
  hs.message = describe(ready)
  return hs
end

hs.status = "Healthy"
hs.message = ready.message or "Ready"
return hs
