package model

// Node is the GraphQL Node interface (Relay's Global Object
// Identification): Lead, Campaign, Contact, User and every activity type.
type Node interface {
	IsNode()
}

// IsNode marks Lead as a Node.
func (*Lead) IsNode() {}

// IsNode marks Campaign as a Node.
func (*Campaign) IsNode() {}

// IsNode marks Contact as a Node.
func (*Contact) IsNode() {}

// IsNode marks User as a Node.
func (*User) IsNode() {}

// IsNode marks an activity as a Node; every concrete activity type embeds
// ActivityBase.
func (*ActivityBase) IsNode() {}

// IsEntity marks Lead as a federation entity (@key(fields: "id")).
func (*Lead) IsEntity() {}

// IsEntity marks Campaign as a federation entity.
func (*Campaign) IsEntity() {}

// IsEntity marks Contact as a federation entity.
func (*Contact) IsEntity() {}
